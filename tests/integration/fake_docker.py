"""A FAKE ``docker`` CLI for tests on machines without a Docker engine (this one has none).

It implements exactly the subset :class:`qcchain_network.backend.DockerBackend` and ``docker_check`` use:
``info``, ``compose version``, ``image inspect IMG``, and ``compose -f FILE -p PROJECT`` with
``up -d --no-deps SERVICE``, ``stop SERVICE``, ``ps --format json``, ``logs [--no-color] [--no-log-prefix]
SERVICE``, ``down``. A "container" is the service's ``command`` run as a NATIVE process with the variables
of its ``env_file`` (binaries from ``FABRIC_BIN``); it refuses services whose compose entry a real engine
could not run the same way here (``network_mode`` other than host, a bind mount to another path, an
image not "pulled"). Configuration by environment: ``FAKE_DOCKER_STATE`` (pid and log files),
``FAKE_DOCKER_IMAGES`` (comma-separated images present), ``FAKE_DOCKER_NO_ENGINE`` / ``FAKE_DOCKER_NO_COMPOSE``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from qcchain_network.procs import alive as _alive


def _die(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def _images() -> set[str]:
    return {i for i in os.environ.get("FAKE_DOCKER_IMAGES", "").split(",") if i}


def _env_file(path: str) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


class Project:
    def __init__(self, compose_file: str, name: str) -> None:
        self.doc: dict[str, Any] = yaml.safe_load(Path(compose_file).read_text(encoding="utf-8"))
        self.state = Path(os.environ["FAKE_DOCKER_STATE"]) / name
        self.state.mkdir(parents=True, exist_ok=True)

    def service(self, name: str) -> dict[str, Any]:
        svc = self.doc.get("services", {}).get(name)
        if svc is None:
            _die(f"no such service: {name}")
        return dict(svc)

    def pid(self, name: str) -> int | None:
        path = self.state / f"{name}.pid"
        if path.is_file():
            pid = int(path.read_text())
            if _alive(pid):
                return pid
        return None

    def up(self, name: str) -> None:
        svc = self.service(name)
        if svc.get("network_mode") != "host":
            _die(f"{name}: fake docker runs only network_mode: host services")
        for volume in svc.get("volumes", []):
            src, _, dst = volume.partition(":")
            if src != dst:
                _die(f"{name}: bind mount {volume} changes the path; the fake cannot run it natively")
        if svc["image"] not in _images():
            _die(f"Error response from daemon: pull access denied for {svc['image']}")
        if self.pid(name) is not None:
            return
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
        for path in svc.get("env_file", []):
            env.update(_env_file(path))
        argv = shlex.split(svc["command"]) if isinstance(svc["command"], str) else list(svc["command"])
        argv[0] = str(Path(os.environ.get("FABRIC_BIN", "/opt/fabric/bin")) / argv[0])
        with open(self.state / f"{name}.log", "ab") as log:
            child = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd="/")
        (self.state / f"{name}.pid").write_text(str(child.pid))
        print(f" Container {name}  Started", file=sys.stderr)

    def stop(self, name: str) -> None:
        self.service(name)
        pid = self.pid(name)
        if pid is None:
            return
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        (self.state / f"{name}.pid").unlink(missing_ok=True)

    def ps(self) -> None:
        for name in self.doc.get("services", {}):
            if self.pid(name) is not None:
                print(json.dumps({"Name": name, "Service": name, "State": "running", "Project": self.state.name}))

    def logs(self, name: str) -> None:
        self.service(name)
        path = self.state / f"{name}.log"
        if path.is_file():
            sys.stdout.write(path.read_text(encoding="utf-8", errors="replace"))

    def down(self) -> None:
        for name in self.doc.get("services", {}):
            self.stop(name)
            (self.state / f"{name}.log").unlink(missing_ok=True)


def _compose(args: list[str]) -> None:
    if args == ["version"]:
        if os.environ.get("FAKE_DOCKER_NO_COMPOSE"):
            _die("docker: 'compose' is not a docker command.")
        print("Docker Compose version v2.29.0 (fake)")
        return
    if len(args) < 5 or args[0] != "-f" or args[2] != "-p":
        _die(f"fake docker: unsupported compose arguments {args}")
    project = Project(args[1], args[3])
    sub, rest = args[4], [a for a in args[5:] if not a.startswith("-")]
    flags = [a for a in args[5:] if a.startswith("-")]
    if sub == "up" and flags == ["-d", "--no-deps"] and len(rest) == 1:
        project.up(rest[0])
    elif sub == "stop" and len(rest) == 1:
        project.stop(rest[0])
    elif sub == "ps" and args[5:] == ["--format", "json"]:
        project.ps()
    elif sub == "logs" and len(rest) == 1:
        project.logs(rest[0])
    elif sub == "down" and not args[5:]:
        project.down()
    else:
        _die(f"fake docker: unsupported compose command {args[4:]}")


def main(argv: list[str]) -> None:
    if argv == ["info"]:
        if os.environ.get("FAKE_DOCKER_NO_ENGINE"):
            _die("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
        print("Server Version: fake")
    elif argv[:1] == ["compose"]:
        _compose(argv[1:])
    elif argv[:2] == ["image", "inspect"] and len(argv) == 3:
        if argv[2] not in _images():
            _die(f"Error: No such image: {argv[2]}")
        print(json.dumps([{"RepoTags": [argv[2]]}]))
    else:
        _die(f"fake docker: unsupported command {argv}")


if __name__ == "__main__":
    main(sys.argv[1:])
