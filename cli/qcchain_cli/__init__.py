"""qcchain command-line interface (click). Nothing imports this package."""
