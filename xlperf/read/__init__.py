"""read layer: a return file as found (guard, then the readers), plus the inbox and the roster.

The public names of reading a return are re-exported here; the modules behind them are
``returns`` (what is read), ``assemble`` (:func:`read_return`), ``xlsx`` / ``container`` /
``fastsheet`` / ``treesheet`` / ``cells`` (the .xlsx readers), ``calamine`` (.xls / .ods),
``fieldmap`` (the hidden ``_xlperf`` sheet, whose contract is :mod:`xlperf.form.metasheet`) and ``book`` (the workbook before assembly).
"""

from xlperf.form.metasheet import META_SHEET
from xlperf.read.assemble import read_return
from xlperf.read.returns import CellRef, FieldRef, ReadError, Return, Value

__all__ = ["META_SHEET", "CellRef", "FieldRef", "ReadError", "Return", "Value", "read_return"]
