"""HTTP API: /v1/subscriptions, /v1/deliveries, /v1/alerts."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from modelops_notifier import handlers
from modelops_notifier.api_models import (
    Alert,
    CreateAlert,
    CreateSubscription,
    Delivery,
    Items,
    ReplaySince,
    RotateSecret,
    Subscription,
    SubscriptionWithSecret,
    UpdateSubscription,
)
from modelops_notifier.app_deps import Deps
from modelops_notifier.handlers import Notifier
from modelops_servicekit.errors import NotFound

router = APIRouter(prefix="/v1")
User = Annotated[str, Header(alias="modelops-user")]


def get_notifier(request: Request) -> Notifier:
    deps: Deps = request.app.state.deps
    return deps.notifier


N = Annotated[Notifier, Depends(get_notifier)]


def _with_secret(doc: dict[str, Any], secret: str) -> SubscriptionWithSecret:
    return SubscriptionWithSecret(**Subscription.of(doc).model_dump(), secret=secret)


@router.post("/subscriptions", status_code=201, tags=["subscriptions"])
async def create_subscription(
    body: CreateSubscription, n: N, user: User = "anonymous"
) -> SubscriptionWithSecret:
    doc, secret = await handlers.create_subscription(body.model_dump(), user, n)
    return _with_secret(doc, secret)


@router.get("/subscriptions", tags=["subscriptions"])
async def list_subscriptions(n: N) -> Items[Subscription]:
    return Items(items=[Subscription.of(d) for d in await n.subscriptions.list()])


@router.get("/subscriptions/{sub_id}", tags=["subscriptions"])
async def get_subscription(sub_id: str, n: N) -> Subscription:
    return Subscription.of(await handlers.get_subscription(sub_id, n))


@router.patch("/subscriptions/{sub_id}", tags=["subscriptions"])
async def update_subscription(sub_id: str, body: UpdateSubscription, n: N) -> Subscription:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return Subscription.of(await handlers.update_subscription(sub_id, changes, n))


@router.post("/subscriptions/{sub_id}/pause", tags=["subscriptions"])
async def pause_subscription(sub_id: str, n: N) -> Subscription:
    return Subscription.of(await handlers.update_subscription(sub_id, {"paused": True}, n))


@router.post("/subscriptions/{sub_id}/resume", tags=["subscriptions"])
async def resume_subscription(sub_id: str, n: N) -> Subscription:
    return Subscription.of(await handlers.update_subscription(sub_id, {"paused": False}, n))


@router.delete("/subscriptions/{sub_id}", status_code=204, tags=["subscriptions"])
async def delete_subscription(sub_id: str, n: N) -> Response:
    await handlers.delete_subscription(sub_id, n)
    return Response(status_code=204)


@router.post("/subscriptions/{sub_id}/rotate-secret", tags=["subscriptions"])
async def rotate_secret(sub_id: str, body: RotateSecret, n: N) -> SubscriptionWithSecret:
    doc, secret = await handlers.rotate_secret(sub_id, body.overlap_s, n)
    return _with_secret(doc, secret)


@router.post("/subscriptions/{sub_id}/test", tags=["subscriptions"])
async def test_subscription(sub_id: str, n: N) -> Delivery:
    """Send a signed `modelops.ping` now; the answer is the recorded delivery."""
    return Delivery.of(await handlers.send_test(sub_id, n))


@router.post("/subscriptions/{sub_id}/replay", tags=["subscriptions"])
async def replay_subscription(sub_id: str, body: ReplaySince, n: N) -> dict[str, int]:
    return {"replayed": await handlers.replay_since(sub_id, body.since, body.statuses, n)}


@router.get("/deliveries", tags=["deliveries"])
async def list_deliveries(
    n: N,
    subscription_id: str | None = None,
    event_id: str | None = None,
    status: str | None = Query(default=None, pattern="^(pending|delivered|dead_letter)$"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Items[Delivery]:
    filters = {"subscription_id": subscription_id, "event_id": event_id, "status": status}
    docs = await n.deliveries.query({k: v for k, v in filters.items() if v}, limit)
    return Items(items=[Delivery.of(d) for d in docs])


@router.get("/deliveries/{delivery_id}", tags=["deliveries"])
async def get_delivery(delivery_id: str, n: N) -> Delivery:
    doc = await n.deliveries.get(delivery_id)
    if doc is None:
        raise NotFound(f"no delivery {delivery_id!r}")
    return Delivery.of(doc)


@router.post("/deliveries/{delivery_id}/replay", tags=["deliveries"])
async def replay_delivery(delivery_id: str, n: N) -> Delivery:
    return Delivery.of(await handlers.replay_delivery(delivery_id, n))


@router.post("/alerts", status_code=201, tags=["alerts"])
async def create_alert(body: CreateAlert, n: N, user: User = "anonymous") -> Alert:
    return Alert.of(await handlers.create_alert(body.model_dump(), user, n))


@router.get("/alerts", tags=["alerts"])
async def list_alerts(n: N) -> Items[Alert]:
    return Items(items=[Alert.of(d) for d in await n.rules.list()])


@router.get("/alerts/{rule_id}", tags=["alerts"])
async def get_alert(rule_id: str, n: N) -> Alert:
    return Alert.of(await handlers.get_alert(rule_id, n))


@router.delete("/alerts/{rule_id}", status_code=204, tags=["alerts"])
async def delete_alert(rule_id: str, n: N) -> Response:
    await handlers.delete_alert(rule_id, n)
    return Response(status_code=204)
