"""List pages show 50 rows at a time with a pager, instead of stopping at a fixed number."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import LiveServer

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT = re.compile(r'href="([^"]+)" rel="next"')
PREV = re.compile(r'href="([^"]+)" rel="prev"')


def signed_in(live: LiveServer, key: str) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=30)
    token = TOKEN.search(client.get("/ui/login").text)
    assert token
    r = client.post("/ui/login", data={"csrf_token": token[1], "api_key": key})
    assert r.status_code == 303, r.text
    return client


def rows(html: str, testid: str) -> list[str]:
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td><a href=\"[^\"]+\">([^<]+)</a>", table)


@pytest.mark.sqlite_only(
    "the pages page through the services, whose PostgreSQL paging the API tests"
)
def test_lists_page_through_everything(live: LiveServer) -> None:
    _, key = live.new_user("pager")
    with live.client(key) as api:
        for i in range(61):
            r = api.post("/projects", json={"name": f"p{i:02d}", "description": ""})
            assert r.status_code == 200, r.text
        for i in range(51):
            r = api.post("/scripts/python3", json={"name": f"s{i:02d}", "source": "pass"})
            assert r.status_code == 201, r.text
    web = signed_in(live, key)
    try:
        first = web.get("/ui/projects").text
        assert "Page 1 of 2 (61 in all)" in first and not PREV.search(first)
        page_one = rows(first, "projects")
        assert len(page_one) == 50
        link = NEXT.search(first)
        assert link
        second = web.get(link[1].replace("&amp;", "&")).text
        page_two = rows(second, "projects")
        assert len(page_two) == 11 and not NEXT.search(second)
        assert sorted(page_one + page_two) == [f"p{i:02d}" for i in range(61)]
        back = PREV.search(second)
        assert back and "page=1" in back[1]

        # The jobs page does not count: a full page offers a next one, which holds the rest.
        jobs = web.get("/ui/jobs").text
        following = NEXT.search(jobs)
        assert following and "Page 1" in jobs
        rest = web.get(following[1].replace("&amp;", "&"))
        assert rest.status_code == 200 and not NEXT.search(rest.text)
        assert rest.text.count('href="/ui/jobs/') == 1  # the 51st

        # A filter stays on while paging.
        scripts = web.get("/ui/scripts", params={"type": "python3"}).text
        assert "51 in all" in scripts
        onward = NEXT.search(scripts)
        assert onward and "type=python3" in onward[1] and "page=2" in onward[1]
        # Nonsense page numbers are page 1; past the end, an empty page.
        assert "Page 1 of 2" in web.get("/ui/projects", params={"page": "x"}).text
        assert rows(web.get("/ui/projects", params={"page": 9}).text, "projects") == []
    finally:
        web.close()
