"""The alert webhook resource against a real local HTTP server."""

import pytest

from churn_assets.resources.alerts import AlertError, AlertWebhook
from churn_assets_tests.integration.services import free_port
from churn_assets_tests.resources.webhook import webhook_server


@pytest.fixture
def webhook():
    with webhook_server() as hook:
        yield hook


def test_send_posts_the_text_and_fields_as_json(webhook):
    sent = AlertWebhook(url=webhook.url).send("run 42 failed", run_id="42")

    assert sent is True
    assert webhook.received == [{"text": "run 42 failed", "run_id": "42"}]


def test_without_a_url_nothing_is_sent(webhook):
    assert AlertWebhook().send("run 42 failed") is False
    assert webhook.received == []


def test_a_refusing_webhook_raises_naming_the_url_and_status(webhook):
    webhook.status = 500

    with pytest.raises(AlertError, match=rf"could not POST the alert to {webhook.url}: 500"):
        AlertWebhook(url=webhook.url).send("run 42 failed")
    assert len(webhook.received) == 1


def test_an_unreachable_webhook_raises_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/alert"  # nothing listens there

    with pytest.raises(AlertError, match=f"could not POST the alert to {url}"):
        AlertWebhook(url=url, timeout_seconds=2).send("run 42 failed")
