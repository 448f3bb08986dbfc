"""The pages of the web UI: Streamlit scripts that st.navigation runs (ui/app.py), not modules to import."""
