"""Files supervisors hand upward: the Excel workbook and the long CSV (workbook.py), their
names (names.py), written atomically (save.py)."""
