"""The desk in a real Chromium, as a finance clerk uses it."""

from __future__ import annotations

from browser import Desk, browser, console_problems, desk, screenshot  # noqa: F401  (fixtures)
from selenium.webdriver.common.by import By


def test_start_url_signs_in_and_drops_the_token(desk: Desk, browser) -> None:  # noqa: F811
    browser.get(desk.base + "/")
    assert "访问令牌" in browser.find_element(By.TAG_NAME, "body").text
    console_problems(browser)  # the 401 of that page is expected; read and drop it
    browser.get(desk.url)
    assert "token" not in browser.current_url
    assert browser.current_url.endswith("/rounds")
    assert "报送任务" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "home")
    assert console_problems(browser) == []
