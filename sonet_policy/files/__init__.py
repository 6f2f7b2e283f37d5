"""The file boundary: one reader of customer files, one writer that never harms a file, streaming, the spreadsheet
guard, and notebooks as they are saved.
"""
