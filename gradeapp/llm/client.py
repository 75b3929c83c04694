"""Talk to any OpenAI-compatible endpoint: configuration, secrets, bounded concurrency, retries, usage.

Retries are the openai client's own (`max_retries`): it retries 408, 409, 429, 5xx, timeouts and
connection errors with exponential backoff (0.5 s doubling to 8 s, with jitter) and honours
`Retry-After` / `retry-after-ms` up to two minutes, so no retry library is added on top. The token-rate
limit is a leaky bucket from `aiolimiter`. The API key is read from the environment when the client
is made and is never returned, stored, logged or put into an error message (see `redact`).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gradeapp.errors import GradeappError, InputError

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"

# USD per one million tokens (input, output); list prices of public models, override with --price.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}


class CallFailed(Exception):
    """One API call failed for good (after the client's retries); the message holds no secret."""

    def __init__(self, message: str, *, fatal: bool = False, environment: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal  # the same error will recur for every call (bad key, unknown model)
        # the machine's or network's side (refused, unreachable, timed out), not the command's: exit 1
        self.environment = environment


@dataclass
class Endpoint:
    """A model behind an OpenAI-compatible endpoint, and how to call it (no secret in here)."""

    model: str
    base_url: str | None = None
    key_env: str = DEFAULT_KEY_ENV
    temperature: float = 0.7
    max_tokens: int | None = 1024
    timeout: float = 120.0
    max_retries: int = 4
    concurrency: int = 8
    tokens_per_minute: float | None = None
    transport: str = "auto"  # "aiohttp" (openai's aiohttp transport), "httpx", or auto: aiohttp if installed
    rate_period: float = 60.0  # seconds the token budget refills over (tests shorten it)
    price: tuple[float, float] | None = None  # USD per 1M input, output tokens
    extra: dict[str, Any] = field(default_factory=dict)
    # a local server: the host recorded instead of the URL's (its port changes every run), how it takes
    # a JSON schema ("json_object": llama.cpp's server refuses "json_schema"), and what identifies it
    host_label: str | None = None
    schema_format: str = "json_schema"
    provenance: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_base_url(self.url)
        if self.max_tokens is not None and not 0 < self.max_tokens < 2**31:
            raise InputError(f"expected 1 .. {2**31 - 1:,}, got {self.max_tokens}", field="--max-tokens")

    @property
    def url(self) -> str:
        """Return the base URL: --base-url, else OPENAI_BASE_URL, else OpenAI's."""
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL

    @property
    def host(self) -> str:
        """Return the endpoint's host[:port], without user info, path or query (or its host_label)."""
        return self.host_label or endpoint_host(self.url)

    def unit_price(self) -> tuple[float, float] | None:
        """Return (input, output) USD per 1M tokens for this model, or None when unknown."""
        if self.price is not None:
            return self.price
        if self.model in PRICES:
            return PRICES[self.model]
        # dated snapshots ("gpt-4o-2024-08-06") cost what their family costs
        family = max((m for m in PRICES if self.model.startswith(m + "-")), key=len, default=None)
        return PRICES[family] if family else None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Return the estimated cost in USD, or None when the price is unknown."""
        price = self.unit_price()
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    def public_config(self) -> dict[str, Any]:
        """Return the settings that may be stored and exported (never the key, never URL credentials)."""
        return {
            "model": self.model,
            "endpoint_host": self.host,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "key_env": self.key_env,
            "concurrency": self.concurrency,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
            "tokens_per_minute": self.tokens_per_minute,
            **self.provenance,
        }


def check_base_url(url: str) -> None:
    """Refuse a base URL that is not http(s)://host[:port]/path or that carries user:password@."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        raise InputError(f"not a URL ({exc})", field="--base-url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"expected http(s)://host[:port]/path, got {url[:80]!r}", field="--base-url")
    if parts.username is not None or parts.password is not None:
        raise InputError(
            "a user:password@ in the URL is not supported (it would reach logs and the project); "
            "give the key through OPENAI_API_KEY or --key-env",
            field="--base-url",
        )


def endpoint_host(url: str) -> str:
    """Return host[:port] of a URL, dropping any user:password@ part."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def api_key(endpoint: Endpoint) -> str:
    """Return the API key from the endpoint's environment variable.

    Local servers (vLLM, Ollama) usually need none: a placeholder is used when the endpoint is not
    OpenAI's. The key itself is never part of an error message.
    """
    key = os.environ.get(endpoint.key_env)
    if key:
        return key
    if endpoint.host == endpoint_host(OPENAI_BASE_URL):
        raise GradeappError(f"no API key: set the environment variable {endpoint.key_env}")
    return "no-key"


def as_schema_format(response_format: dict, schema_format: str) -> dict:
    """Return a json_schema response_format in the form the endpoint takes (json_object + schema, or as is)."""
    if schema_format == "json_object" and response_format.get("type") == "json_schema":
        return {"type": "json_object", "schema": response_format["json_schema"]["schema"]}
    return response_format


def token_count(value: Any) -> int | None:
    """Return a server's token count if it is one (a whole number in 0..2^63), else None."""
    if type(value) is int and 0 <= value < 2**63:
        return value
    return None


def redact(text: str, endpoint: Endpoint | None = None) -> str:
    """Remove the API key (and any key-looking environment value) from a message."""
    secrets = {os.environ.get(DEFAULT_KEY_ENV)}
    if endpoint is not None:
        secrets.add(os.environ.get(endpoint.key_env))
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text


def make_client(endpoint: Endpoint):
    """Return an AsyncOpenAI client for the endpoint (retries and timeout from the endpoint)."""
    import openai

    http_client = None
    if endpoint.transport in ("auto", "aiohttp"):
        # httpcore's connection pool costs ~2 ms of CPU per call more than aiohttp's at 32+ connections
        # (bench/bench_judge.py); the openai client keeps its own retries and errors on either
        try:
            http_client = openai.DefaultAioHttpClient(timeout=endpoint.timeout)
        except RuntimeError:
            if endpoint.transport == "aiohttp":
                raise GradeappError(
                    "the aiohttp transport needs the aiohttp package (pip install aiohttp)"
                ) from None
    return openai.AsyncOpenAI(
        api_key=api_key(endpoint),
        base_url=endpoint.url,
        max_retries=endpoint.max_retries,
        timeout=endpoint.timeout,
        http_client=http_client,
    )


@dataclass
class Usage:
    """Token counts and outcomes of a run, summed over its calls."""

    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, usage: dict | None) -> None:
        if usage:
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)


@dataclass
class ChatResult:
    text: str
    usage: dict | None
    finish_reason: str | None
    structured: bool  # the request carried a response_format


class Caller:
    """Make chat calls with at most `concurrency` in flight and an optional token-rate limit."""

    def __init__(self, endpoint: Endpoint, client=None) -> None:
        self.endpoint = endpoint
        self.client = client if client is not None else make_client(endpoint)
        self.semaphore = asyncio.Semaphore(max(1, endpoint.concurrency))
        self.limiter = None
        if endpoint.tokens_per_minute:
            from aiolimiter import AsyncLimiter

            self.limiter = AsyncLimiter(
                endpoint.tokens_per_minute * endpoint.rate_period / 60, endpoint.rate_period
            )
        # None: not tried yet; False: the endpoint refused response_format, send plain text requests
        self.structured_ok: bool | None = None

    async def close(self) -> None:
        await self.client.close()

    def _estimate_tokens(self, messages: list[dict]) -> float:
        # ~4 characters a token, plus the completion budget; the limiter only needs an upper estimate
        prompt = sum(len(m.get("content") or "") for m in messages) / 4
        return prompt + (self.endpoint.max_tokens or 256)

    async def chat(self, messages: list[dict], response_format: dict | None = None) -> ChatResult:
        """Send one chat completion; return its text and usage, or raise CallFailed."""
        import openai

        if self.limiter is not None:
            await self.limiter.acquire(min(self._estimate_tokens(messages), self.limiter.max_rate))
        payload: dict[str, Any] = {"model": self.endpoint.model, "messages": messages}
        if self.endpoint.temperature is not None:
            payload["temperature"] = self.endpoint.temperature
        if self.endpoint.max_tokens:
            payload["max_tokens"] = self.endpoint.max_tokens
        use_format = response_format is not None and self.structured_ok is not False
        if use_format:
            payload["response_format"] = as_schema_format(response_format, self.endpoint.schema_format)
        async with self.semaphore:
            try:
                raw = await self._post(payload)
            except openai.BadRequestError as exc:
                if not (use_format and ("response_format" in str(exc).lower() or "json" in str(exc).lower())):
                    raise self._failure(exc) from None
                # an endpoint without structured output: ask in plain text from now on
                self.structured_ok = False
                payload.pop("response_format", None)
                use_format = False
                try:
                    raw = await self._post(payload)
                except openai.OpenAIError as exc2:
                    raise self._failure(exc2) from None
            except openai.OpenAIError as exc:
                raise self._failure(exc) from None
        try:
            body = json.loads(raw.text)
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
            finish = choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise CallFailed(
                f"{self.endpoint.host}: unreadable response ({type(exc).__name__}: {exc})"
            ) from None
        if use_format:
            self.structured_ok = True
        usage = body.get("usage") or None
        if isinstance(usage, dict):
            usage = {
                k: token_count(usage.get(k)) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
            }
        else:
            usage = None
        # A server that echoes the key (a debugging proxy, a hostile endpoint) must not get it stored.
        text = redact(text, self.endpoint) if isinstance(text, str) else ""
        return ChatResult(text=text, usage=usage, finish_reason=finish, structured=use_format)

    async def _post(self, payload: dict[str, Any]):
        """POST /chat/completions through the client (its auth, retries, timeouts); return the raw response.

        The client's generic post() with a plain dict body skips the typed-parameter transform and
        the pydantic response models of chat.completions.create, which cost ~4 ms of CPU per call
        (measured: bench/bench_judge.py); the JSON body is decoded with json.loads instead.
        """
        import httpx2

        resp = await self.client.post("/chat/completions", cast_to=httpx2.Response, body=payload)
        await resp.aread()
        return resp

    def _failure(self, exc: Exception) -> CallFailed:
        import openai

        host = self.endpoint.host
        retries = self.endpoint.max_retries
        if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one too
            return CallFailed(
                redact(
                    f"{host}: {_connection_failure(exc, self.endpoint.timeout)} ({retries} retries)",
                    self.endpoint,
                ),
                environment=True,
            )
        if isinstance(exc, openai.APIStatusError):
            detail = _short_detail(exc)
            msg = f"{host}: HTTP {exc.status_code}{' ' + detail if detail else ''}"
            if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                msg += f" (gave up after {retries} retries)"
            fatal = exc.status_code in (401, 403, 404)
            return CallFailed(redact(msg, self.endpoint), fatal=fatal)
        return CallFailed(redact(f"{host}: {type(exc).__name__}: {exc}", self.endpoint))


def _connection_failure(exc: BaseException, timeout: float) -> str:
    """Say why a call got no answer: refused, unreachable, or timed out.

    The cause chain is read because openai's aiohttp transport reports a refused connection as a
    ConnectTimeout (so a server that is not running read "timed out after 120 s").
    """
    seen: BaseException | None = exc
    for _ in range(10):  # a bounded walk: a chain can loop through __context__
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused (is the server running, on this host and port?)"
        if isinstance(seen, socket.gaierror):
            return "unreachable (the host name does not resolve)"
        if isinstance(seen, OSError) and seen.errno in _UNREACHABLE:
            return f"unreachable ({seen.strerror or seen})"
        seen = seen.__cause__ or seen.__context__
    if "timeout" in type(exc).__name__.lower():
        return f"timed out after {timeout:g} s"
    return "cannot connect"


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNRESET, errno.ECONNABORTED}


def _short_detail(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:200]
    return ""
