from tests.unit.test_privacy import record_file_writes, _upload, PAGE
from tests.app.conftest import app_artifacts, app_env, app_test, phantom_png  # noqa
import tempfile

def test_mutant(app_env, app_test, phantom_png, monkeypatch):
    from dashboard import explain_view
    real = explain_view.decode
    def leaky(name, data):
        with tempfile.NamedTemporaryFile(delete=True) as fh:
            fh.write(data)
        return real(name, data)
    monkeypatch.setattr(explain_view, "decode", leaky)
    at = app_test(PAGE)
    with record_file_writes() as found:
        at = _upload(at, "scan.png", phantom_png(seed=4))
    print("FOUND", found, at.exception)
    assert found
