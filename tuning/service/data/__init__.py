"""Datasets: upload, profile, list, load."""
