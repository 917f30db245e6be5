// Server-Sent Events read through fetch(). EventSource cannot send the X-API-Key header,
// so the page reads the response body itself and parses its frames the way the HTML
// standard's "event stream interpretation" says: lines, fields, a blank line ends an event.

export class SseParser {
  // onEvent({id, name, data}) is called for each complete event; returning true stops
  // the reading (see readEvents).
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.pending = "";       // the start of a line whose end has not arrived yet
    this.idBuffer = "";      // the id field seen last, kept across events
    this.lastEventId = "";   // the id of the last event received whole: where to resume
    this.retry = null;       // the server's reconnection delay, in milliseconds
    this.stopped = false;
    this.startEvent();
  }

  startEvent() {
    this.name = "";
    this.data = [];
  }

  push(text) {
    let complete = this.pending + text;
    // A chunk may end between the \r and the \n of one line ending: wait for the next.
    const held = complete.endsWith("\r") ? "\r" : "";
    if (held) complete = complete.slice(0, -1);
    const lines = complete.split(/\r\n|\r|\n/);
    this.pending = lines.pop() + held;
    for (const line of lines) {
      if (this.stopped) return;
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;  // a comment: the server's heartbeat
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.name = value;
    else if (field === "id" && !value.includes("\0")) this.idBuffer = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }

  // A blank line: the event is whole. Only now does its id count, so a frame cut off
  // by a dropped connection is asked for again.
  dispatch() {
    const {name, data} = this;
    this.startEvent();
    this.lastEventId = this.idBuffer;
    if (data.length === 0) return;
    const event = {id: this.lastEventId, name: name || "message", data: data.join("\n")};
    if (this.onEvent(event) === true) this.stopped = true;
  }
}

// Feeds the body of a fetch() response to the parser until the body ends or the parser
// is stopped; then lets the connection go. Network errors are thrown to the caller.
export async function readEvents(response, parser) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!parser.stopped) {
      const {value, done} = await reader.read();
      if (done) return;
      parser.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
