// The Parley playground: the conversations (polling) face and a task's events, from the
// browser. Every URL is relative: the page talks only to the server that served it.

import {SseParser, readEvents} from "./sse.js";

const KEY = "parley.playground.apiKey";
const CONVERSATIONS = "parley.playground.conversations";
// Reconnections in a row that bring no new event before the page gives up on the
// stream and asks the task's status instead.
const MAX_FRUITLESS_RECONNECTS = 5;
const LONG_POLL_SECONDS = 30;

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;  // 0: no answer from the server, or a step missing on the page
  }
}

// ---- the API ----------------------------------------------------------------------

function authHeaders(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  if (!key) throw new ApiError(0, "Paste an API key first.");
  return {"X-API-Key": key, ...extra};
}

async function send(path, init) {
  try {
    return await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, `The server could not be reached (${error.message}).`);
  }
}

async function api(path, {method = "GET", json, signal} = {}) {
  const headers = authHeaders({Accept: "application/json"});
  const init = {method, headers, signal};
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await send(path, init);
  if (!response.ok) throw await refusal(response);
  return response.json();
}

// The API's JSON error body ({code, status, message, errors}) as one sentence.
async function refusal(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") message = body.message;
  } catch {
    // Not JSON: the status line says what there is to say.
  }
  if (response.status === 401) return new ApiError(401, `The key was refused: ${message}`);
  return new ApiError(response.status, `${message} (HTTP ${response.status})`);
}

// ---- the page's small helpers -----------------------------------------------------

function say(id, text) {
  $(id).textContent = text;
}

function option(value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  return element;
}

function item(text) {
  const element = document.createElement("li");
  element.textContent = text;
  return element;
}

function count(number, noun) {
  return `${number} ${noun}${number === 1 ? "" : "s"}`;
}

function sleep(milliseconds, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, milliseconds);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, {once: true});
  });
}

// A form's or button's handler: its error, if any, shown in its section's alert; a
// second press while the first is at work is ignored.
function action(errorId, work) {
  let busy = false;
  return async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    say(errorId, "");
    try {
      await work(event);
    } catch (error) {
      showError(errorId, error);
    } finally {
      busy = false;
    }
  };
}

function showError(errorId, error) {
  if (error.name === "AbortError") return;  // replaced by newer work, not a failure
  say(errorId, error instanceof ApiError ? error.message : `Unexpected error: ${error}`);
}

// ---- 1. the key -------------------------------------------------------------------

async function useKey(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await loadDataSets();
  } catch (error) {
    if (error.status === 401) forgetKey();
    throw error;
  }
  $("workspace").hidden = false;
  $("forget-key").hidden = false;
  say("key-status", `Using the key ending in …${key.slice(-4)}.`);
  renderConversations();
  await loadHistory();
}

function forgetKey() {
  sessionStorage.removeItem(KEY);
  watching?.abort();
  $("workspace").hidden = true;
  $("forget-key").hidden = true;
  say("key-status", "");
}

// ---- 2. data sets and documents ---------------------------------------------------

function selectedDataSet() {
  const id = $("data-set").value;
  if (!id) throw new ApiError(0, "Create or pick a data set first.");
  return id;
}

async function loadDataSets(selectId) {
  const dataSets = await api("/api/data_sets");
  const select = $("data-set");
  const keep = String(selectId ?? select.value);
  select.replaceChildren(...dataSets.map((set) => option(set.id, `${set.name} (#${set.id})`)));
  if (dataSets.length === 0) select.append(option("", "none yet: create one below"));
  if (dataSets.some((set) => String(set.id) === keep)) select.value = keep;
  await loadDocuments();
}

async function loadDocuments() {
  const id = $("data-set").value;
  const documents = id ? await api(`/api/data_sets/${id}/documents`) : [];
  $("documents").replaceChildren(...documents.map((document_) =>
    item(`${document_.title} (${count(document_.passage_count, "passage")})`)));
}

async function createDataSet() {
  const name = $("data-set-name").value;
  const created = await api("/api/data_sets", {method: "POST", json: {name}});
  $("data-set-form").reset();
  await loadDataSets(created.id);
  say("data-set-status", `Created data set “${created.name}” (#${created.id}).`);
  $("document-title").focus();
}

async function addDocument() {
  const dataSetId = selectedDataSet();
  const json = {title: $("document-title").value, content: $("document-content").value};
  const added = await api(`/api/data_sets/${dataSetId}/documents`, {method: "POST", json});
  $("document-form").reset();
  await loadDocuments();
  say("data-set-status",
      `Added “${added.title}” to data set #${dataSetId}: ${count(added.passage_count, "passage")}.`);
}

// ---- 3. conversations -------------------------------------------------------------
// The polling face lists no conversations: the page remembers, for this tab, the ones
// it made or opened.

function knownConversations() {
  return JSON.parse(sessionStorage.getItem(CONVERSATIONS) || "[]");
}

function remember(conversation) {
  const known = knownConversations().filter((each) => each.id !== conversation.id);
  known.push({id: conversation.id, data_set_id: conversation.data_set_id});
  sessionStorage.setItem(CONVERSATIONS, JSON.stringify(known));
  renderConversations(conversation.id);
}

function renderConversations(selectId) {
  const select = $("conversation");
  const keep = String(selectId ?? select.value);
  const known = knownConversations();
  select.replaceChildren(...known.map((each) =>
    option(each.id, `#${each.id} (data set #${each.data_set_id ?? "none"})`)));
  if (known.length === 0) select.append(option("", "none yet: create or open one"));
  if (known.some((each) => String(each.id) === keep)) select.value = keep;
}

async function newConversation() {
  const data_set_id = Number(selectedDataSet());
  const created = await api("/api/conversations", {method: "POST", json: {data_set_id}});
  remember(created);
  await loadHistory();
}

async function openConversation() {
  const id = $("conversation-id").value;
  // Its latest message only: enough to know it is there, and its data set.
  const conversation = await api(`/api/conversations/${encodeURIComponent(id)}?limit=1`);
  remember(conversation);
  $("open-conversation-form").reset();
  await loadHistory();
}

// ---- 4. a question, its task and its events ---------------------------------------

let watching = null;  // the AbortController of the task on show

const task = {
  show(taskId) {
    say("task-id", taskId);
    say("task-status", "—");
    say("reply", "");
    $("events").replaceChildren();
    this.trail = [];
    this.state("PENDING");
  },
  // PENDING → STARTED → SUCCESS or FAILURE, each shown once, in the order seen.
  state(state) {
    const output = $("task-state");
    output.value = state;
    output.dataset.state = state;
    if (this.trail.at(-1) !== state) this.trail.push(state);
    say("task-trail", this.trail.join(" → "));
  },
  log(text) {
    $("events").append(item(text));
  },
  status(status) {
    const error = status.error ? `: ${status.error}` : "";
    say("task-status",
        `${status.state}, stage ${status.stage}, ${count(status.attempts, "attempt")}${error}`);
  },
};

// The polling face's state is PENDING until the task ends; its stage tells a task at
// work (STARTED, as the task's start event says) from a queued one.
function stateOf(status) {
  const working = status.state === "PENDING" && ["running", "canceling"].includes(status.stage);
  return working ? "STARTED" : status.state;
}

async function ask() {
  const conversationId = $("conversation").value;
  if (!conversationId) throw new ApiError(0, "Create or open a conversation first.");
  const json = {question_message: $("question").value};
  say("ask-status", "Sending the question…");
  let accepted;
  try {
    accepted = await api(`/api/conversations/${conversationId}`, {method: "POST", json});
  } finally {
    say("ask-status", "");
  }
  const taskId = accepted.task_id;
  $("question").value = "";
  watching?.abort();
  watching = new AbortController();
  task.show(taskId);
  // Followed outside this handler, so the next question can be asked meanwhile.
  follow(taskId, watching.signal).catch((error) => showError("ask-error", error));
  await loadHistory();
}

// The task's events until it ends, then its status and the conversation's history.
async function follow(taskId, signal) {
  $("reply").setAttribute("aria-busy", "true");
  try {
    const ended = await streamEvents(taskId, signal);
    if (!ended) await waitForEnd(taskId, signal);
    const status = await api(`/api/task_status/${taskId}`, {signal});
    task.state(stateOf(status));
    task.status(status);
  } finally {
    $("reply").setAttribute("aria-busy", "false");
  }
  await loadHistory();
}

// Reads GET /api/tasks/{id}/events, resuming after the last event received when the
// connection drops (Last-Event-ID). True once the task's end or error has arrived;
// false when the events have expired (410) or the stream keeps failing.
async function streamEvents(taskId, signal) {
  let lastEventId = "";
  let retryMilliseconds = 1000;
  let fruitless = 0;
  let ended = false;
  for (;;) {
    const parser = new SseParser((event) => {
      fruitless = 0;
      ended = onTaskEvent(event);
      return ended;
    });
    try {
      const headers = authHeaders({Accept: "text/event-stream"});
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await send(`/api/tasks/${taskId}/events`, {headers, signal});
      if (response.status === 410) {
        task.log("the events have expired: reading the task's status");
        return false;
      }
      if (!response.ok) throw await refusal(response);
      await readEvents(response, parser);
    } catch (error) {
      // An answer with an error status, or the page moving on, ends the reading; a
      // dropped connection is resumed below.
      if (error.name === "AbortError" || error.status > 0) throw error;
    } finally {
      lastEventId = parser.lastEventId || lastEventId;
      retryMilliseconds = parser.retry ?? retryMilliseconds;
    }
    if (ended) return true;
    fruitless += 1;
    if (fruitless > MAX_FRUITLESS_RECONNECTS) {
      task.log("the stream keeps failing: reading the task's status");
      return false;
    }
    task.log(`connection lost: resuming after ${lastEventId || "the start"}`);
    await sleep(retryMilliseconds, signal);
  }
}

// One task event on the page; true when it is the last (end or error).
function onTaskEvent(event) {
  task.log(`${event.name} ${event.id}`);
  let data = {};
  try {
    data = JSON.parse(event.data);
  } catch {
    // Not JSON: shown in the log above, nothing more to read from it.
  }
  if (event.name === "start") {
    task.state("STARTED");
    // A retry streams the reply again from its start: what came before is discarded.
    if ((data.attempt ?? 1) > 1) say("reply", "");
  } else if (event.name === "content") {
    $("reply").append(data.text ?? "");
  } else if (event.name === "end") {
    task.state("SUCCESS");
    return true;
  } else if (event.name === "error") {
    task.state("FAILURE");
    say("ask-error", `The task failed: ${data.message ?? "no reason given"}`);
    return true;
  }
  return false;
}

// Without events: the task's status, long-polled until it ends.
async function waitForEnd(taskId, signal) {
  for (;;) {
    const status = await api(`/api/task_status/${taskId}?wait=${LONG_POLL_SECONDS}`,
                             {signal});
    task.state(stateOf(status));
    if (status.state === "SUCCESS" || status.state === "FAILURE") return;
  }
}

// ---- 5. history -------------------------------------------------------------------

// Reads may overlap (a question's, then its reply's): only the latest one is shown, so
// an older answer arriving late never hides a newer history.
let historyReads = 0;

async function loadHistory() {
  const read = ++historyReads;
  const id = $("conversation").value;
  try {
    const messages = id ? (await api(`/api/conversations/${id}`)).history : [];
    if (read !== historyReads) return;
    say("history-error", "");
    renderHistory(messages);
  } catch (error) {
    if (read === historyReads) showError("history-error", error);
  }
}

function renderHistory(messages) {
  if (messages.length === 0) {
    $("history").replaceChildren(item("No messages yet."));
    return;
  }
  $("history").replaceChildren(...messages.map((message) => {
    const element = document.createElement("li");
    element.dataset.role = message.role;
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = message.role;
    const text = document.createElement("p");
    text.textContent = message.text;
    element.append(role, text);
    return element;
  }));
}

// ---- wiring -----------------------------------------------------------------------

// Ctrl+Enter (⌘+Enter) in a text area sends its form.
function submitOnControlEnter(textarea) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      textarea.form.requestSubmit();
    }
  });
}

function wire() {
  $("key-form").addEventListener("submit", action("key-error", async () => {
    const key = $("api-key").value.trim();
    await useKey(key);
    $("api-key").value = "";
    $("data-set").focus();
  }));
  $("forget-key").addEventListener("click", action("key-error", async () => {
    forgetKey();
    $("api-key").focus();
  }));
  $("data-set").addEventListener("change", action("data-set-error", loadDocuments));
  $("data-set-form").addEventListener("submit", action("data-set-error", createDataSet));
  $("document-form").addEventListener("submit", action("data-set-error", addDocument));
  $("conversation").addEventListener("change", action("conversation-error", loadHistory));
  $("new-conversation").addEventListener("click",
                                         action("conversation-error", newConversation));
  $("open-conversation-form").addEventListener("submit",
                                               action("conversation-error", openConversation));
  $("ask-form").addEventListener("submit", action("ask-error", ask));
  $("refresh-history").addEventListener("click", action("history-error", loadHistory));
  submitOnControlEnter($("document-content"));
  submitOnControlEnter($("question"));

  const key = sessionStorage.getItem(KEY);
  if (key) useKey(key).catch((error) => showError("key-error", error));
}

wire();
