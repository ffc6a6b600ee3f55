"""Fakes of outside SaaS APIs, speaking their wire protocols on loopback."""
