"""The Streamlit web UI. Entry point: ui/app.py (`streamlit run ui/app.py`, `simsearch ui`, `make run`)."""
