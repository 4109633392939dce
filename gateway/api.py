"""HTTP API (FastAPI): events, thumbnails, cameras, savings, Prometheus metrics and a small HTML page.

Every route needs the API token (:mod:`gateway.auth`): a bearer header for
programs and Prometheus, a login cookie for the page. Ids in paths are
validated against the contract's patterns and thumbnails are looked up
through the database, so no request can name a file.
"""
from __future__ import annotations

import html
import json
import pathlib
import time
from collections.abc import Callable
from importlib.resources import files
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline

import contract
from gateway.auth import COOKIE, ApiAuth
from gateway.clips import ClipFetcher
from gateway.config import GatewayConfig
from gateway.media import MediaStore
from gateway.report import fmt_bytes, fmt_percent, summarise, write_report
from gateway.store import Store

CameraId = Path(pattern=contract.CAMERA_ID.pattern, max_length=32)
EventId = Path(pattern=contract.EVENT_ID.pattern, max_length=64)


def create_app(cfg: GatewayConfig, store: Store, media: MediaStore, metrics: Callable[[], dict] | None = None,
               clips: ClipFetcher | None = None) -> FastAPI:
    """The API over ``store``; ``metrics`` returns the daemon's ingest counters; ``clips`` fetches event clips.

    Raises :class:`yamlconfig.ConfigError` when no token is configured and reads are not explicitly opened."""
    auth = ApiAuth(cfg.api)
    report_dir = pathlib.Path(cfg.store.media_dir).parent / "report"  # the page's savings report, next to the media
    app = FastAPIOffline(title="smartcam gateway", version="1")  # /docs from the gateway's own Swagger UI assets
    api = APIRouter(dependencies=[Depends(auth.read)])

    def found(row: dict | None) -> dict:
        if row is None or row.get("state") == "pending":
            raise HTTPException(404, "no such event")
        return row

    @api.get("/api/events")
    def events(camera: str | None = Query(None, pattern=contract.CAMERA_ID.pattern), since: float | None = None,
               until: float | None = None, label: str | None = Query(None, max_length=32),
               limit: int = Query(50, ge=1, le=cfg.api.max_page), offset: int = Query(0, ge=0, le=10**7)) -> dict:
        return {"events": store.events(camera, since, until, label, limit, offset), "limit": limit, "offset": offset}

    @api.get("/api/events/{camera}/{event_id}")
    def event(camera: str = CameraId, event_id: str = EventId) -> dict:
        return found(store.event(camera, event_id))

    @api.get("/api/events/{camera}/{event_id}/thumbnail.jpg")
    def thumbnail(camera: str = CameraId, event_id: str = EventId) -> Response:
        row = found(store.event(camera, event_id))
        thumb = store.thumbnail(row["thumbnail_sha"]) if row.get("thumbnail_sha") else None
        if thumb is None:
            raise HTTPException(404, "no thumbnail")
        try:
            data = media.path(thumb["path"]).read_bytes()
        except (OSError, ValueError):
            raise HTTPException(404, "thumbnail file missing") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400, immutable"})

    @api.get("/api/events/{camera}/{event_id}/clip")
    def clip_status(camera: str = CameraId, event_id: str = EventId) -> dict:
        """``stored`` (play ``clip.mp4``), ``fetching`` (chunks in / expected), ``unavailable`` (why) or ``none``."""
        found(store.event(camera, event_id))
        return clips.status(camera, event_id) if clips is not None else {"state": "none"}

    @api.post("/api/events/{camera}/{event_id}/clip", status_code=202)  # watching is a read: whoever may see events
    def clip_fetch(camera: str = CameraId, event_id: str = EventId) -> dict:
        """Ask the camera for the event's clip (it stays on its SD card until someone wants it)."""
        found(store.event(camera, event_id))
        if clips is None:
            raise HTTPException(503, "this gateway fetches no clips")
        clips.fetch(camera, event_id)
        return clips.status(camera, event_id)

    @api.get("/api/events/{camera}/{event_id}/clip.mp4")
    def clip_video(camera: str = CameraId, event_id: str = EventId) -> Response:
        row = found(store.event(camera, event_id))
        stored = store.thumbnail(row["clip_sha"]) if row.get("clip_sha") else None  # (media rows: thumbnails and clips)
        if stored is None:
            raise HTTPException(404, "no clip stored: POST to /clip to fetch it")
        try:
            path = media.path(stored["path"])
        except ValueError:
            raise HTTPException(404, "clip file missing") from None
        if not path.exists():
            raise HTTPException(404, "clip file missing")
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "max-age=86400, immutable"})

    @api.delete("/api/events/{camera}/{event_id}", dependencies=[Depends(auth.write)])
    def delete(camera: str = CameraId, event_id: str = EventId) -> dict:
        found(store.event(camera, event_id))
        with store.transaction():
            store.delete_event(camera, event_id)
        return {"deleted": event_id}

    @api.get("/api/cameras")
    def cameras() -> dict:
        now = time.time()
        return {"cameras": [{**c, "last_stats": json.loads(c["last_stats"]) if c["last_stats"] else None,
                             "seconds_since_seen": round(now - c["last_seen"], 1)} for c in store.cameras()]}

    @api.get("/api/savings")
    def savings(since: float | None = None, camera: str | None = Query(None, pattern=contract.CAMERA_ID.pattern)) -> dict:
        return summarise(store, cfg.report, since, camera)

    @api.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> str:
        s = summarise(store, cfg.report)
        lines = [
            "# TYPE smartcam_events_total gauge", f"smartcam_events_total {store.count('events')}",
            "# TYPE smartcam_stored_bytes gauge", f"smartcam_stored_bytes {store.stored_bytes()}",
            "# TYPE smartcam_continuous_bytes_total counter", f"smartcam_continuous_bytes_total {s['continuous_bytes']}",
            "# TYPE smartcam_event_bytes_total counter", f"smartcam_event_bytes_total {s['event_bytes']}",
            "# TYPE smartcam_cameras gauge", f"smartcam_cameras {store.count('cameras')}",
        ]
        if metrics:
            m = metrics()
            lines.append("# TYPE smartcam_messages_accepted_total counter")
            lines += [f'smartcam_messages_accepted_total{{kind="{k}"}} {v}' for k, v in sorted(m["accepted"].items())]
            lines.append("# TYPE smartcam_messages_rejected_total counter")
            lines += [f'smartcam_messages_rejected_total{{reason="{k}"}} {v}' for k, v in sorted(m["rejected"].items())]
            lines.append("# TYPE smartcam_store_errors_total counter")
            lines += [f'smartcam_store_errors_total{{error="{k}"}} {v}' for k, v in sorted(m.get("store_errors", {}).items())]
            lines.append("# TYPE smartcam_hook_errors_total counter")
            lines += [f'smartcam_hook_errors_total{{error="{k}"}} {v}' for k, v in sorted(m.get("hook_errors", {}).items())]
            lines += ["# TYPE smartcam_broker_connected gauge", f"smartcam_broker_connected {int(m['connected'])}"]
            if "clips" in m:
                lines.append("# TYPE smartcam_clips_total counter")
                lines += [f'smartcam_clips_total{{outcome="{k}"}} {v}' for k, v in sorted(m["clips"].items())]
        return "\n".join(lines) + "\n"

    @app.get("/report/{name}")
    def report(request: Request, name: str = Path(pattern=r"^(report\.html|[a-z_]+\.png)$")) -> Response:
        """The savings report of everything stored (written afresh for the page; its plots next to it)."""
        if not auth.open_reads and not auth.authenticated(request):
            return RedirectResponse("/login", status_code=303)
        if name == "report.html":
            write_report(store, report_dir, cfg.report)
        path = report_dir / name
        if not path.exists():
            raise HTTPException(404, "no such report file")
        return FileResponse(path, media_type="text/html" if name.endswith(".html") else "image/png")

    @app.get("/login", response_class=HTMLResponse)
    def login_form(failed: bool = False) -> str:
        return _page("smartcam: log in", ("<p>Wrong token.</p>" if failed else "") +
                     "<form method='post' action='/login'><label>API token <input type='password' name='token' "
                     "autocomplete='current-password' autofocus></label> <button>Log in</button></form>")

    @app.post("/login")
    async def login(request: Request) -> Response:
        token = parse_qs((await request.body()).decode(errors="replace")).get("token", [""])[0]
        if not auth.check_token(token):
            return RedirectResponse("/login?failed=true", status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, auth.session, max_age=30 * 86400, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        """The review page (plain HTML and JS over this API): cameras, timeline, events with filters, clips."""
        if not auth.open_reads and not auth.authenticated(request):
            return RedirectResponse("/login", status_code=303)
        s = summarise(store, cfg.report)
        kpis = "".join(
            f'<div class="kpi">{label}<br><b>{fmt_percent(value)} saved</b><br><span class="muted">{detail}</span></div>'
            for label, value, detail in (
                ("Wi-Fi", s["wifi"]["saved_percent"], f"{fmt_bytes(s['sent_bytes'])} sent instead of streaming {fmt_bytes(s['continuous_bytes'])}"),
                ("SD card", s["sd_card"]["saved_percent"], f"{fmt_bytes(s['clip_bytes'])} of clips instead of {fmt_bytes(s['continuous_bytes'])}"),
                ("Server", s["server"]["saved_vs_h264_percent"], f"vs continuous H.264 at {cfg.report.h264_kbps:g} kbit/s"),
            ))
        return HTMLResponse(PAGE.replace("<!--SAVINGS-->", kpis))

    app.include_router(api)
    return app


#: The review page; the server fills in the savings (so they read without JavaScript too).
PAGE = files("gateway").joinpath("page.html").read_text()


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif}}"
            f".ev{{display:inline-block;margin:6px;font-size:12px}}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
