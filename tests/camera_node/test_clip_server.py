"""The node's clip server: a manifest that tells the truth, the chunks asked for, never the clip being recorded."""
import hashlib

import contract
from camera_node.clip_server import ClipServer
from tests.gateway.test_clips import clip_file


def server(clips, open_clip=None, rate=1e9, fail_after=None):
    sent = []

    def send(kind, payload, event_id, chunk):
        if fail_after is not None and len(sent) >= fail_after:
            return False
        sent.append((kind, payload, event_id, chunk))
        return True
    return ClipServer(clips, send, rate, lambda: open_clip), sent


def test_the_manifest_and_every_chunk_rebuild_the_clip_exactly(tmp_path):
    data = clip_file(tmp_path / "1-cam1.avi").read_bytes()
    s, sent = server(tmp_path)
    s.serve(contract.ClipRequest(event_id="1-cam1"))
    manifest = contract.ClipManifest.model_validate_json(sent[0][1])
    assert sent[0][0] is contract.TopicKind.CLIP_MANIFEST and manifest.available
    assert manifest.bytes == len(data) and manifest.sha256 == hashlib.sha256(data).hexdigest()
    assert [c for _, _, _, c in sent[1:]] == list(range(manifest.chunks))
    assert b"".join(p for _, p, _, _ in sent[1:]) == data
    assert all(len(p) <= contract.CLIP_CHUNK_BYTES for _, p, _, _ in sent[1:])


def test_only_the_chunks_asked_for_are_sent_without_the_manifest(tmp_path):
    data = clip_file(tmp_path / "1-cam1.avi").read_bytes()
    s, sent = server(tmp_path)
    s.serve(contract.ClipRequest(event_id="1-cam1", chunks=[2, 0, 2, 999]))
    assert [(k, c) for k, _, _, c in sent] == [(contract.TopicKind.CLIP_CHUNK, 0), (contract.TopicKind.CLIP_CHUNK, 2)]
    assert sent[1][1] == data[2 * contract.CLIP_CHUNK_BYTES:3 * contract.CLIP_CHUNK_BYTES]


def test_a_missing_clip_or_the_one_being_recorded_is_refused_with_the_reason(tmp_path):
    clip_file(tmp_path / "2-cam1.avi")
    s, sent = server(tmp_path, open_clip="2-cam1")
    s.serve(contract.ClipRequest(event_id="1-cam1"))
    s.serve(contract.ClipRequest(event_id="2-cam1"))
    reasons = [contract.ClipManifest.model_validate_json(p) for _, p, _, _ in sent]
    assert [(m.available, m.reason.split(" (")[0]) for m in reasons] == [(False, "no clip on the card"), (False, "still recording")]


def test_a_transfer_stops_at_the_first_chunk_not_acknowledged(tmp_path):
    clip_file(tmp_path / "1-cam1.avi")
    s, sent = server(tmp_path, fail_after=3)
    s.serve(contract.ClipRequest(event_id="1-cam1"))
    assert len(sent) == 3 and s.chunks_sent == 2  # the manifest and two chunks; the gateway asks for the rest



def test_the_gateways_word_that_it_stored_a_clip_reaches_the_card_and_sends_nothing(tmp_path):
    clip_file(tmp_path / "1-cam1.avi")
    heard = []
    s = ClipServer(tmp_path, lambda *a: heard.append(a) or True, 1e9, on_fetched=heard.append)
    s.serve(contract.ClipRequest(event_id="1-cam1", fetched=True))
    assert heard == [tmp_path / "1-cam1.avi"]
