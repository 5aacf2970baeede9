"""Browser tests: issue 3's explorer in a real JupyterLab, driven by Playwright in Chromium."""
