"""Build-time helpers of the documentation site (mkdocs hooks): pages generated from the code and results."""
