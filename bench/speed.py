"""Speed: first byte and total through the SDK and the proxy, throughput, and memory, offline.

Run: ``.venv/bin/python bench/speed.py [--runs N] [--clients-requests N] [--quick]``.

It starts the upstream simulator in this process, points the CLI at it, and runs each proxy as
``python -m proxy_core`` in a process of its own, so a proxy's memory is its own and its CLIs are
its descendants. Paths are interleaved request by request, so drift on a shared machine hits
them alike. It prints one table and exits 1 if any CLI process outlives the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web
from claude_agent_sdk import ClaudeSDKClient, ResultMessage, StreamEvent

from proxy_core.anthropic_api.request import parse_messages_request
from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.backend.environment import drop_parent_session_variables
from proxy_core.backend.history import history_frames
from proxy_core.config import Settings
from proxy_core.testing.upstream_simulator import (
    RecordedRequest,
    SimulatorThread,
    ToolCalls,
    UpstreamSimulator,
)

MODEL, MAX_TOKENS = "claude-sonnet-4-5", 64
WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
KINDS = ("plain", "stream", "tool")
HAS_WARM_POOL = "warm_pool" in Settings.__dataclass_fields__
PATHS = {
    "simulator": "simulator itself (direct HTTP)",
    "sdk": "(a) SDK called directly",
    "cold": "(b) proxy, cold (warm_pool=0)",
    "warm": "(c) proxy, warm pool (warm_pool=2)" if HAS_WARM_POOL else "(c) proxy, NO warm pool",
    "continued": "(d) continued conversation",
}
WARM_POOL = 2
WARM_SETTLE_S = 1.5  # a pooled CLI needs about this long to spawn and be ready
SETTLE_STEP_S, QUIET_CPU_S, SETTLE_TIMEOUT_S = 0.25, 0.02, 20.0
CLIENT_COUNTS = (1, 4, 16)
SAMPLE_EVERY_S = 0.1
TIMEOUT = aiohttp.ClientTimeout(total=180)
MB = 1_000_000
TARGET_WARM_MS, TARGET_CONTINUED_MS, TARGET_TRAY_MB = 100.0, 50.0, 80.0
LISTENING = re.compile(r"listening at (http://\S+)")
_numbers = itertools.count(1)
_began = time.monotonic()


def progress(message: str) -> None:
    """Where the run is, on stderr: the table alone goes to stdout."""
    print(f"[{time.monotonic() - _began:5.0f} s] {message}", file=sys.stderr, flush=True)


# -- requests -------------------------------------------------------------------------------------
def fresh_text(kind: str) -> str:
    """A new conversation's text: never the same twice, so no kept conversation matches it."""
    number = next(_numbers)
    if kind == "tool":
        return f"Bench request {number}: what is the weather in Paris?"
    return f"Bench request {number}: say hello."


def request_body(kind: str, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": text}],
        "stream": kind != "plain",
    }
    if kind == "tool":
        body["tools"] = [WEATHER]
    return body


class BenchSimulator(UpstreamSimulator):
    """Answers a request that offers the bench's tool with a call to it, any other with text,
    and notes when each call arrived (it answers at once, so that is also its first byte)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def _answer_messages(
        self, request: web.Request, record: RecordedRequest, body: dict[str, Any]
    ) -> web.StreamResponse:
        self.arrivals.append(time.perf_counter())
        if any(tool.get("name") == WEATHER["name"] for tool in body.get("tools") or []):
            # Taken by the call below before it first awaits, so concurrent requests can't swap it.
            self.enqueue(ToolCalls(calls=((WEATHER["name"], {"city": "Paris"}),)))
        return await super()._answer_messages(request, record, body)


@dataclass
class Sample:
    ttfb_ms: float = 0.0
    total_ms: float = 0.0
    body: bytes = b""
    error: str | None = None
    # The proxy committed the stream with its own message_start before the upstream's came.
    early_start: bool = False
    started: float = 0.0  # time.perf_counter() when the request was sent
    upstream_ms: float = 0.0  # when the upstream call arrived, from the start

    @property
    def relay_ms(self) -> float:
        """From the upstream's first byte to the client's: what the CLI, SDK and proxy add."""
        return self.ttfb_ms - self.upstream_ms

    def note_upstream(self, arrivals: list[float]) -> Sample:
        """Pair this request with the upstream call it caused: the last to arrive, if it did so
        after the request started (requests run one at a time)."""
        if arrivals and arrivals[-1] > self.started:
            self.upstream_ms = (arrivals[-1] - self.started) * 1000
        else:
            self.error = self.error or "no upstream call arrived for this request"
        return self

    def check(self, what: str) -> Sample:
        if self.error is not None:
            raise RuntimeError(f"{what} failed: {self.error}")
        return self


def since_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Sample:
    """POST and time the first body byte and the end; a failure is noted, never raised."""
    start = time.perf_counter()
    first: float | None = None
    chunks: list[bytes] = []
    try:
        async with session.post(url, json=body) as response:
            async for chunk in response.content.iter_any():
                first = since_ms(start) if first is None else first
                chunks.append(chunk)
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        return Sample(error=f"{type(error).__name__}: {error}")
    data = b"".join(chunks)
    sample = Sample(first or since_ms(start), since_ms(start), data, started=start)
    if status != 200:
        sample.error = f"HTTP {status}: {data[:300]!r}"
    elif body.get("stream"):
        if b"event: error" in data or b"event: message_stop" not in data:
            sample.error = f"the stream failed or was cut short: {data[-300:]!r}"
        first_frame = data.split(b"\n\n", 1)[0]
        sample.early_start = b"message_start" in first_frame and b'"msg_sim_' not in first_frame
    else:
        with contextlib.suppress(ValueError):
            if json.loads(data).get("type") == "message":
                return sample
        sample.error = f"not a message: {data[:300]!r}"
    return sample


async def _one(payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield payload


async def sdk_post(backend: ClaudeSDKBackend, body: dict[str, Any]) -> Sample:
    """One turn through ClaudeSDKClient with the proxy's own options: message_start is the first
    byte, message_stop the end. Closing the client afterwards is not timed."""
    request = parse_messages_request(body, default_model=MODEL, request_id="bench").backend_request
    start = time.perf_counter()
    marks: dict[str, float] = {}
    client = ClaudeSDKClient(backend.options_for(request))
    try:
        await client.connect()
        await client.query(_one(history_frames(request.messages)[-1].payload))
        async for message in client.receive_messages():
            if isinstance(message, ResultMessage):
                break
            if isinstance(message, StreamEvent) and not message.parent_tool_use_id:
                kind = str(message.event.get("type"))
                marks.setdefault(kind, since_ms(start))
                if kind == "message_stop":
                    break
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await client.interrupt()
        await client.disconnect()
    if "message_start" not in marks or "message_stop" not in marks:
        return Sample(error=f"the SDK stream ended early: {sorted(marks)}")
    return Sample(marks["message_start"], marks["message_stop"], started=start)


async def continued(
    session: aiohttp.ClientSession, base_url: str, kind: str
) -> tuple[Sample, bool]:
    """Open a conversation (not timed), then time its next turn; True if a kept CLI answered."""
    opening = request_body(kind, fresh_text(kind))
    first = (await post(session, f"{base_url}/v1/messages", {**opening, "stream": False})).check(
        "a continued conversation's first turn"
    )
    reply = json.loads(first.body)["content"]
    if kind == "tool":
        results = [
            {"type": "tool_result", "tool_use_id": block["id"], "content": "18 C, sunny"}
            for block in reply
            if block["type"] == "tool_use"
        ]
        turn: dict[str, Any] = {"role": "user", "content": results}
    else:
        turn = {"role": "user", "content": "And once more, please."}
    messages = [*opening["messages"], {"role": "assistant", "content": reply}, turn]
    sample = await post(session, f"{base_url}/v1/messages", {**opening, "messages": messages})
    async with session.get(f"{base_url}/sessions") as response:
        kept = (await response.json())["data"]
    return sample, any(entry["turns"] >= 2 for entry in kept)


async def end_sessions(session: aiohttp.ClientSession, base_url: str) -> None:
    """End the kept conversations, so new requests meet the same state every time."""
    async with session.delete(f"{base_url}/sessions") as response:
        response.raise_for_status()


# -- processes ------------------------------------------------------------------------------------
def live(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    found = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


def descendants(root: psutil.Process) -> list[psutil.Process]:
    try:
        return live(root.children(recursive=True))
    except psutil.Error:
        return []


def summed_rss(processes: Iterable[psutil.Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def activity(roots: Iterable[psutil.Process]) -> tuple[int, float]:
    """How many processes run under the roots, and the CPU seconds the trees have used."""
    count, cpu = 0, 0.0
    for root in roots:
        tree = descendants(root)
        count += len(tree)
        if root.pid != os.getpid():  # this process runs the clients: its own CPU is not idleness
            tree.append(root)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                cpu += times.user + times.system
    return count, cpu


@dataclass
class SettleStats:
    waits: int = 0
    seconds: float = 0.0
    timeouts: int = 0


SETTLING = SettleStats()


async def settle(roots: list[psutil.Process], min_s: float = 0.0) -> None:
    """Wait until CLIs have finished starting or ending: same process count, next to no CPU."""
    start = time.monotonic()
    await asyncio.sleep(min_s)
    before = activity(roots)
    SETTLING.waits += 1
    for _ in range(int(SETTLE_TIMEOUT_S / SETTLE_STEP_S)):
        await asyncio.sleep(SETTLE_STEP_S)
        now = activity(roots)
        if now[0] == before[0] and now[1] - before[1] < QUIET_CPU_S:
            break
        before = now
    else:
        SETTLING.timeouts += 1
    SETTLING.seconds += time.monotonic() - start


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This environment (already pointing at the simulator) without the user's proxy settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    return {**env, **extra}


def private_dirs(root: Path) -> dict[str, str]:
    dirs = {"CLAUDE_PROXY_CONFIG_DIR": "config", "CLAUDE_PROXY_DATA_DIR": "data"}
    dirs["CLAUDE_PROXY_LOG_DIR"] = "logs"
    for sub in dirs.values():
        (root / sub).mkdir(parents=True, exist_ok=True)
    return {variable: str(root / sub) for variable, sub in dirs.items()}


def launch(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a process with the given environment, its output going to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, env=child_environment(env), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop_tree(popen: subprocess.Popen[bytes], wait_s: float = 30.0) -> list[psutil.Process]:
    """Terminate a process as a user would and return the descendants that outlived it."""
    tree: list[psutil.Process] = []
    with contextlib.suppress(psutil.Error):
        tree = descendants(psutil.Process(popen.pid))
    popen.terminate()
    try:
        popen.wait(wait_s)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
    _, alive = psutil.wait_procs(tree, timeout=3)
    left = live(alive)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()
    return left


def strays(root: Path) -> list[psutil.Process]:
    """Processes still running in a directory under ``root``, as every CLI the bench caused does
    (its cwd is the proxy's private work dir): these outlived their parent. They are ended."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd")
        if cwd and Path(cwd).is_relative_to(root) and live([process]):
            found.append(process)
            with contextlib.suppress(psutil.Error):
                process.kill()
    return found


class ProxyProcess:
    """``python -m proxy_core`` in a process of its own, set up through its own config file."""

    def __init__(self, name: str, root: Path, config: dict[str, Any]) -> None:
        self.name = name
        self._dirs = private_dirs(root / name)
        config_dir = Path(self._dirs["CLAUDE_PROXY_CONFIG_DIR"])
        (config_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        self._log = root / name / "proxy.log"
        self._popen: subprocess.Popen[bytes] | None = None
        self.process: psutil.Process | None = None
        self.url = ""

    def start(self) -> ProxyProcess:
        command = [sys.executable, "-m", "proxy_core", "--port", "0"]
        self._popen = launch(command, self._dirs, self._log)
        deadline = time.monotonic() + 30
        while not self.url:
            found = LISTENING.search(self._log.read_text(encoding="utf-8", errors="replace"))
            if found:
                self.url = found[1]
            elif self._popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"proxy {self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        self.process = psutil.Process(self._popen.pid)
        return self

    def log_tail(self) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-20:])

    def stop(self) -> list[psutil.Process]:
        if self._popen is None or self._popen.poll() is not None:
            return []
        return stop_tree(self._popen)


class MemorySampler(threading.Thread):
    """Peak RSS of one process, and of its descendants summed, every SAMPLE_EVERY_S."""

    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self._process = process
        self.done = threading.Event()
        self.peak_rss = self.peak_children_rss = self.peak_children = 0

    def run(self) -> None:
        while not self.done.is_set():
            children = descendants(self._process)
            self.peak_rss = max(self.peak_rss, summed_rss([self._process]))
            self.peak_children_rss = max(self.peak_children_rss, summed_rss(children))
            self.peak_children = max(self.peak_children, len(children))
            self.done.wait(SAMPLE_EVERY_S)


# -- the tray app ---------------------------------------------------------------------------------
@dataclass
class TrayResult:
    rss: int | None = None
    uss: int = 0
    note: str = ""
    left: list[psutil.Process] = field(default_factory=list)


def stop_quietly(popen: subprocess.Popen[bytes]) -> None:
    popen.terminate()
    try:
        popen.wait(5)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def read_line(stream: int, limit_s: float) -> str:
    """One line from a pipe, read to its end: a writer whose reader is gone may die of it."""
    data, deadline = b"", time.monotonic() + limit_s
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(stream, 256) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def helper(helpers: contextlib.ExitStack, command: list[str], **options: Any) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
    )
    helpers.callback(stop_quietly, process)


def desktop(helpers: contextlib.ExitStack) -> dict[str, str] | None:
    """This desktop, or else a virtual screen with a tray host, a session bus and a notification
    daemon: the tray app then loads what it loads on a desktop."""
    if os.environ.get("DISPLAY") or sys.platform != "linux":
        return {}
    xvfb, dbus = shutil.which("Xvfb"), shutil.which("dbus-daemon")
    if xvfb is None or dbus is None:
        return None
    read_end, write_end = os.pipe()
    screen = ["-screen", "0", "640x480x24", "-nolisten", "tcp"]
    helper(helpers, [xvfb, "-displayfd", str(write_end), *screen], pass_fds=(write_end,))
    os.close(write_end)
    number = read_line(read_end, 10)
    os.close(read_end)
    read_end, write_end = os.pipe()
    bus = [dbus, "--session", "--nofork", f"--print-address={write_end}"]
    helper(helpers, bus, pass_fds=(write_end,))
    os.close(write_end)
    address = read_line(read_end, 10)
    os.close(read_end)
    if not number or not address:
        return None
    env = {"DISPLAY": f":{number}", "DBUS_SESSION_BUS_ADDRESS": address}
    tray_host = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"]
    for command in (tray_host, ["dunst"]):
        if shutil.which(command[0]):
            helper(helpers, command, env={**os.environ, **env})
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until_serving(url: str, popen: subprocess.Popen[bytes], limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while popen.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False


def gui_toolkit(process: psutil.Process) -> str:
    maps = [m.path for m in process.memory_maps()]
    return "GTK" if any("libgtk-3" in path for path in maps) else "Xlib"


async def tray_idle(root: Path, idle_s: float) -> TrayResult:
    """`python -m tray_app` with its defaults on a (virtual) screen: its own RSS once idle."""
    with contextlib.ExitStack() as helpers:
        screen = desktop(helpers)
        if screen is None:
            return TrayResult(note="not measured: no DISPLAY, and no Xvfb or dbus-daemon")
        where = "on Xvfb" if screen else "on this desktop"
        port = free_port()
        env = {
            **private_dirs(root / "tray"),
            **screen,
            "CLAUDE_PROXY_PORT": str(port),
            # Never touch the user's keyring; the module is imported all the same.
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "NO_AT_BRIDGE": "1",
        }
        log_path = root / "tray" / "output.log"
        popen = launch([sys.executable, "-m", "tray_app"], env, log_path)
        try:
            process = psutil.Process(popen.pid)
            if not await wait_until_serving(f"http://127.0.0.1:{port}/health", popen, 60):
                last = (log_path.read_text(errors="replace").strip().splitlines() or [""])[-1]
                return TrayResult(note=f"not measured: its server did not start: {last}")
            await settle([process], idle_s)
            if "running headless" in log_path.read_text(errors="replace"):
                return TrayResult(note="not measured: no tray came up, the app ran headless")
            rss, uss = process.memory_info().rss, process.memory_full_info().uss
            clis = len(descendants(process))
            toolkit = gui_toolkit(process)
            note = f"python -m tray_app {where}, pystray on {toolkit}; {clis} child processes"
        finally:
            left = stop_tree(popen)
        return TrayResult(rss, uss, note, left)


# -- phases ---------------------------------------------------------------------------------------
Timings = defaultdict[str, defaultdict[str, list[Sample]]]


async def sequential(
    runs: int,
    sim: SimulatorThread,
    backend: ClaudeSDKBackend,
    cold: ProxyProcess,
    warm: ProxyProcess,
    roots: list[psutil.Process],
) -> tuple[Timings, int]:
    """Each kind through each path in turn. Round 0 is not counted: it warms the page cache and
    the connections, and gives the warm pool its first sight of each request shape."""
    assert isinstance(sim.simulator, BenchSimulator)
    arrivals = sim.simulator.arrivals
    timings: Timings = defaultdict(lambda: defaultdict(list))
    reused = 0
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:

        async def through(path: str, kind: str, base_url: str, counted: bool) -> None:
            body = request_body(kind, fresh_text(kind))
            if path == "sdk":
                sample = await sdk_post(backend, body)
            elif path == "continued":
                sample, kept = await continued(session, base_url, kind)
                nonlocal reused
                reused += counted and kept
            else:
                sample = await post(session, f"{base_url}/v1/messages", body)
            sample.note_upstream(arrivals).check(f"{PATHS[path]}, {kind}")
            if counted:
                timings[path][kind].append(sample)

        for round_ in range(runs + 1):
            counted = round_ > 0
            progress(f"sequential round {round_} of {runs}" + ("" if counted else " (warm-up)"))
            for kind in KINDS:
                await through("simulator", kind, sim.base_url, counted)
                await through("sdk", kind, "", counted)
                await settle(roots)
                for path, proxy in (("cold", cold), ("warm", warm), ("continued", warm)):
                    await through(path, kind, proxy.url, counted)
                    await end_sessions(session, proxy.url)
                    # The warm pool refills after a request of the same shape.
                    await settle(roots, WARM_SETTLE_S if proxy is warm else 0.0)
    return timings, reused


@dataclass
class Load:
    clients: int
    samples: list[Sample]
    wall_s: float


async def concurrent(base_url: str, clients: int, per_client: int) -> Load:
    """``clients`` clients at once, each with its own connection, each sending ``per_client``
    streaming requests that start new conversations, one after another."""
    samples: list[Sample] = []

    async def client() -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for _ in range(per_client):
                body = request_body("stream", fresh_text("stream"))
                samples.append(await post(session, f"{base_url}/v1/messages", body))

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Load(clients, samples, time.perf_counter() - start)


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Results:
    timings: Timings
    reused: int
    loads: list[Load]
    memory: list[tuple[str, str]]
    tray: TrayResult
    left: list[psutil.Process]
    upstream_calls: int


def pool_config(size: int) -> dict[str, Any]:
    """The proxy's config file: the pool size only where Settings has the field, since the
    proxy refuses a config file with an unknown setting."""
    return {"warm_pool": size} if HAS_WARM_POOL else {}


def own_rss(process: psutil.Process) -> str:
    return f"{summed_rss([process]) / MB:.1f}"


def clis(process: psutil.Process) -> str:
    children = descendants(process)
    return f"{summed_rss(children) / MB:.1f} ({len(children)} procs)"


async def run(args: argparse.Namespace, sim: SimulatorThread, root: Path) -> Results:
    cold = ProxyProcess("cold", root, pool_config(0))
    warm = ProxyProcess("warm", root, pool_config(WARM_POOL))
    left: list[psutil.Process] = []
    memory: list[tuple[str, str]] = []
    loads: list[Load] = []
    try:
        progress("starting the proxies")
        cold.start()
        warm.start()
        assert cold.process is not None and warm.process is not None
        roots = [cold.process, warm.process, psutil.Process()]
        await settle(roots, 1.0)
        memory += [
            ("proxy process (c), idle after start", own_rss(warm.process)),
            ("its CLI processes, idle after start", clis(warm.process)),
        ]
        backend = ClaudeSDKBackend(Settings(port=0, data_dir=root / "sdk"))
        timings, reused = await sequential(args.runs, sim, backend, cold, warm, roots)
        memory += [
            ("proxy process (c), idle after the sequential runs", own_rss(warm.process)),
            ("its CLI processes then (warm pool)", clis(warm.process)),
        ]
        left += cold.stop()  # the load runs against one proxy, with its default settings
        roots.remove(cold.process)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for clients in CLIENT_COUNTS:
                progress(f"{clients} concurrent clients")
                sampler = MemorySampler(warm.process)
                sampler.start()
                loads.append(await concurrent(warm.url, clients, args.clients_requests))
                sampler.done.set()
                sampler.join()
                await end_sessions(session, warm.url)
                await settle(roots, WARM_SETTLE_S)
        busiest = f"{CLIENT_COUNTS[-1]} clients"  # the sampler's peaks are from the last load
        memory += [
            (f"proxy process (c), peak with {busiest}", f"{sampler.peak_rss / MB:.1f}"),
            (
                f"its CLI processes, peak with {busiest}",
                f"{sampler.peak_children_rss / MB:.1f} ({sampler.peak_children} procs)",
            ),
            ("proxy process (c), idle after the load", own_rss(warm.process)),
            ("its CLI processes then (warm pool)", clis(warm.process)),
        ]
    finally:
        left += cold.stop() + warm.stop()
    progress("tray app, idle")
    tray = await tray_idle(root, idle_s=2.0)
    _, alive = psutil.wait_procs(psutil.Process().children(recursive=True), timeout=3)
    for process in live(alive):
        with contextlib.suppress(psutil.Error):
            process.kill()
    left += live(alive) + tray.left
    counted = {process.pid for process in left}
    left += [process for process in strays(root) if process.pid not in counted]
    calls = len(sim.simulator.message_calls())
    return Results(timings, reused, loads, memory, tray, left, calls)


# -- the report -----------------------------------------------------------------------------------
def quantile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[percent // 5 - 1]


def p50(samples: list[Sample], attribute: str = "ttfb_ms") -> float:
    return quantile([getattr(sample, attribute) for sample in samples], 50)


def figures(samples: list[Sample]) -> str:
    cells = []
    for attribute in ("ttfb_ms", "total_ms"):
        values = [getattr(sample, attribute) for sample in samples]
        cells += [quantile(values, 50), quantile(values, 95)]
    return "".join(f"{cell:>10.1f}" for cell in cells)


def sequential_lines(timings: Timings, runs: int) -> list[str]:
    columns = ("TTFB p50", "p95", "total p50", "p95", "+sim", "upstream", "relay")
    head = f"{f'Sequential requests (ms), runs: {runs}':<38}{'kind':<7}"
    lines = [head + "".join(f"{column:>10}" for column in columns)]
    for path, label in PATHS.items():
        for kind in KINDS:
            samples = timings[path][kind]
            tail = f"{'':>10}" * 3
            if path != "simulator":
                extra = p50(samples) - p50(timings["simulator"][kind])
                upstream, relay = p50(samples, "upstream_ms"), p50(samples, "relay_ms")
                tail = f"{extra:>+10.1f}{upstream:>10.1f}{relay:>10.1f}"
            lines.append(f"{label if kind == 'plain' else '':<38}{kind:<7}{figures(samples)}{tail}")
    lines += [
        "TTFB: first body byte (SDK: its message_start event); total: last byte (message_stop)",
        "+sim: TTFB p50 minus the simulator's own TTFB p50 for the same kind",
        "upstream: when the simulator got the call; relay: TTFB minus that (p50 of each request's)",
        "plain: non-streaming; stream: streaming text; tool: streaming, answered with a tool call",
    ]
    return lines


def load_lines(loads: list[Load]) -> list[str]:
    names = ("requests", "failed", "early", "req/s", "TTFB p50", "p95", "total p50", "p95")
    lines = [f"{'Concurrent clients, streaming (ms)':<36}" + "".join(f"{n:>10}" for n in names)]
    for load in loads:
        good = [sample for sample in load.samples if sample.error is None]
        failed = len(load.samples) - len(good)
        early = sum(sample.early_start for sample in load.samples)
        rate = len(load.samples) / load.wall_s
        counts = f"{len(load.samples):>10}{failed:>10}{early:>10}{rate:>10.2f}"
        timing = figures(good) if good else f"{'-':>10}" * 4
        lines.append(f"{f'{load.clients} at once':<36}{counts}{timing}")
    lines.append(
        "each client its own connection, requests one after another, each a new conversation;"
    )
    lines.append("early: streams the proxy committed with its own message_start after waiting")
    errors = {sample.error for load in loads for sample in load.samples if sample.error}
    lines += [f"  failure: {error}" for error in sorted(errors)[:5]]
    return lines


def verdict(ok: bool, text: str) -> str:
    return f"{'met' if ok else 'NOT MET':<9}{text}"


def target_lines(results: Results, runs: int) -> list[str]:
    timings = results.timings

    def worst(path: str) -> tuple[float, str]:
        extra = {k: p50(timings[path][k]) - p50(timings["simulator"][k]) for k in KINDS}
        kind = max(extra, key=lambda k: extra[k])
        return extra[kind], kind

    warm, warm_kind = worst("warm")
    cold, cold_kind = worst("cold")
    kept, kept_kind = worst("continued")
    busiest = results.loads[-1]
    failed = sum(sample.error is not None for sample in busiest.samples)
    defaults = Settings()
    limits = f"max_concurrent {defaults.max_concurrent}, max_queue {defaults.max_queue}"
    lines = [
        verdict(
            warm <= TARGET_WARM_MS,
            f"warm pool adds <= {TARGET_WARM_MS:.0f} ms p50 to the simulator's first byte: "
            f"{warm:+.1f} ms (worst kind: {warm_kind})",
        ),
        f"{'info':<9}cold spawn adds {cold:+.1f} ms p50 (worst kind: {cold_kind})",
        verdict(
            kept < TARGET_CONTINUED_MS,
            f"continued conversation adds < {TARGET_CONTINUED_MS:.0f} ms to the first byte: "
            f"{kept:+.1f} ms (worst kind: {kept_kind})",
        ),
    ]
    tray = results.tray
    if tray.rss is None:
        lines.append(f"{'unknown':<9}idle tray app < {TARGET_TRAY_MB:.0f} MB RSS: {tray.note}")
    else:
        lines.append(
            verdict(
                tray.rss / MB < TARGET_TRAY_MB,
                f"idle tray app < {TARGET_TRAY_MB:.0f} MB RSS excluding CLIs: "
                f"{tray.rss / MB:.1f} MB",
            )
        )
    lines.append(
        verdict(
            failed == 0,
            f"no failed request at {busiest.clients} concurrent clients ({limits}): "
            f"{failed} of {len(busiest.samples)} failed",
        )
    )
    if not HAS_WARM_POOL:
        lines.append("NOTE: Settings has no warm_pool field here: (c) ran without a warm pool")
    lines.append(f"continued conversations answered by their kept CLI: {results.reused}"
                 f" of {runs * len(KINDS)}")  # fmt: skip
    return lines


def report(results: Results, args: argparse.Namespace, elapsed_s: float) -> str:
    pool = "present" if HAS_WARM_POOL else "MISSING (no warm pool on this branch)"
    # Per round and kind: simulator, SDK, cold, warm, and a continued conversation's two turns.
    expected_calls = (args.runs + 1) * len(KINDS) * 6 + sum(
        sample.error is None for load in results.loads for sample in load.samples
    )
    lines = [
        f"claude-sdk-proxy speed: upstream simulator, {os.cpu_count()} CPUs, model {MODEL}, "
        f"{elapsed_s:.0f} s; Settings.warm_pool {pool}",
        "",
        *sequential_lines(results.timings, args.runs),
        "",
        *load_lines(results.loads),
        "",
        f"{'Memory (RSS, MB = 10^6 bytes)':<62}{'MB':>10}",
        *(f"{name:<62}{value:>10}" for name, value in results.memory),
        f"{'tray app process RSS idle (excluding CLIs)':<62}"
        + (f"{results.tray.rss / MB:>10.1f}" if results.tray.rss else f"{'-':>10}"),
        f"{'  its USS (pages no other process shares)':<62}{results.tray.uss / MB:>10.1f}",
        f"  ({results.tray.note})",
        "",
        "Targets",
        *target_lines(results, args.runs),
        f"upstream /v1/messages calls: {results.upstream_calls} (expected {expected_calls}: one"
        " per request that reached it)",
        f"settling between requests: {SETTLING.waits} waits, {SETTLING.seconds:.0f} s in all, "
        f"{SETTLING.timeouts} timed out",
        f"CLI processes left after the run: {len(results.left)}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, metavar="N", help="sequential runs (5)")
    parser.add_argument(
        "--clients-requests", type=int, default=3, metavar="N",
        help="requests each concurrent client sends (3)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run, 1 request")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.clients_requests = 1, 1
    if args.runs < 1 or args.clients_requests < 1:
        parser.error("--runs and --clients-requests must be at least 1")
    drop_parent_session_variables(os.environ)  # as the proxy's own entry point does
    started = time.monotonic()
    sim = SimulatorThread()
    sim.simulator = BenchSimulator()
    sim.start()
    # Set before anything spawns a CLI: the CLIs and the proxies inherit this environment.
    os.environ["ANTHROPIC_BASE_URL"] = sim.base_url
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-bench-dummy"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
            results = asyncio.run(run(args, sim, Path(tmp)))
    finally:
        sim.stop()
    print(report(results, args, time.monotonic() - started))
    return 1 if results.left else 0


if __name__ == "__main__":
    raise SystemExit(main())
