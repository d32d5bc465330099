"""Importing a union office's Excel 台账 as back-dated history through the ledger's commands."""
