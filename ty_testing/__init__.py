"""What tests and benchmarks run against, never shipped (not in the wheel): local servers that speak the real
Ollama, BA job search and alert-webhook protocols on 127.0.0.1, and test CVs as real PDF, DOCX and text files.

It may import the core (:mod:`ty_resources`); nothing in the four shipped packages imports it.
"""
