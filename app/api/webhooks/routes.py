"""Routes of the webhooks. Each view is one call into app.services.webhooks."""

from flask.views import MethodView

from app.api.face import FaceBlueprint
from app.api.webhooks import schemas
from app.auth import current_org
from app.services import webhooks

blp = FaceBlueprint("webhooks", __name__, url_prefix="/api/webhooks", rate_limit="polling",
                    description="Signed webhooks (Standard Webhooks): endpoints receiving "
                                "task, batch and job events, their deliveries, and the "
                                "secret of per-request callbacks.")


@blp.route("")
class Webhooks(MethodView):
    @blp.response(200, schemas.WebhookSchema(many=True))
    def get(self):
        """List the organization's webhooks"""
        return webhooks.list_webhooks(current_org())

    @blp.arguments(schemas.WebhookCreateSchema)
    @blp.response(201, schemas.WebhookCreatedSchema)
    def post(self, body):
        """Add a webhook; its signing secret is shown only in this answer"""
        return webhooks.create(current_org(), **body)


@blp.route("/callback_secret")
class CallbackSecret(MethodView):
    @blp.response(200, schemas.CallbackSecretSchema)
    def post(self):
        """Make, or replace, the secret signing per-request callback_url deliveries

        Shown only in this answer; a new one replaces the old at once."""
        return webhooks.callback_secret(current_org())


@blp.route("/<webhook_id>")
class WebhookById(MethodView):
    @blp.errors(404)
    @blp.response(200, schemas.WebhookSchema)
    def get(self, webhook_id):
        """Get a webhook"""
        return webhooks.view(webhooks.get(current_org(), webhook_id))

    @blp.errors(404)
    @blp.arguments(schemas.WebhookUpdateSchema)
    @blp.response(200, schemas.WebhookSchema)
    def patch(self, body, webhook_id):
        """Change a webhook's url, events, description, or enable or disable it"""
        return webhooks.update_webhook(current_org(), webhook_id, body)

    @blp.errors(404)
    @blp.response(204)
    def delete(self, webhook_id):
        """Delete a webhook and its deliveries"""
        webhooks.delete_webhook(current_org(), webhook_id)


@blp.route("/<webhook_id>/test")
class WebhookTest(MethodView):
    @blp.errors(404, 409)
    @blp.response(202, schemas.DeliverySchema)
    def post(self, webhook_id):
        """Send a webhook.test event to the webhook now"""
        return webhooks.send_test(current_org(), webhook_id)


@blp.route("/<webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.errors(404)
    @blp.arguments(schemas.DeliveriesQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.DeliveryPageSchema)
    def get(self, webhook_id, limit, before=None):
        """A webhook's deliveries, newest first, `limit` at a time"""
        return webhooks.deliveries(current_org(), webhook_id, limit, before)


@blp.route("/<webhook_id>/deliveries/<delivery_id>")
class DeliveryById(MethodView):
    @blp.errors(404)
    @blp.response(200, schemas.DeliverySchema)
    def get(self, webhook_id, delivery_id):
        """Get a delivery: its status, attempts and last answer"""
        return webhooks.delivery(current_org(), webhook_id, delivery_id)


@blp.route("/<webhook_id>/deliveries/<delivery_id>/redeliver")
class Redeliver(MethodView):
    @blp.errors(404, 409)
    @blp.response(202, schemas.DeliverySchema)
    def post(self, webhook_id, delivery_id):
        """Send a delivery again now: the same message (webhook-id, body), signed anew"""
        return webhooks.redeliver(current_org(), webhook_id, delivery_id)
