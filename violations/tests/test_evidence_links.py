import warnings
from types import SimpleNamespace

from violations.admin.records import evidence_links


def test_evidence_links_joined_without_deprecation_warning():
    items = [SimpleNamespace(pk=1, original_name="a<b>.png"), SimpleNamespace(pk=2, original_name="c.pdf")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # format_html without arguments warns (RemovedInDjango60Warning)
        html = evidence_links(items)
    assert html.count("<br>") == 1 and "a&lt;b&gt;.png" in html
