"""Alerts leave the process here: a JSON POST to a chat or incident webhook."""

import requests
from dagster import ConfigurableResource
from pydantic import Field


class AlertError(RuntimeError):
    """The webhook could not be reached or refused the alert."""


class AlertWebhook(ConfigurableResource):
    """POSTs `{"text": ..., **fields}` to `url` (Slack, Teams and most incident tools take it).

    Without a URL nothing is sent: the local deployment logs failures and stops there.
    """

    url: str | None = Field(None, description="Webhook URL; unset sends nothing.")
    timeout_seconds: float = Field(10.0, gt=0, description="Connect and read timeout.")

    def send(self, text: str, **fields) -> bool:
        """POST the alert; True when sent, False when no URL is configured.

        Raises AlertError naming the URL when the request fails or the answer is not 2xx.
        """
        if not self.url:
            return False
        try:
            response = requests.post(
                self.url, json={"text": text, **fields}, timeout=self.timeout_seconds
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise AlertError(f"could not POST the alert to {self.url}: {exc}") from exc
        return True
