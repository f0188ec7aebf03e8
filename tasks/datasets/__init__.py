"""Dataset builders for the soundflow pipeline (procedural and downloaded)."""
