"""What the dashboard's pages share. Not in pages/: Streamlit lists every file there as a page."""
