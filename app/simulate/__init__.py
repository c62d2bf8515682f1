"""Simulated evaluators: hidden judging rules and a client that labels through the HTTP API."""
