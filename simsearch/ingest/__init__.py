"""Reading documents in: files to Documents, the windows of long texts, rows written out."""
