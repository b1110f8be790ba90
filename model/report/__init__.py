"""Stage 5, report: one scan's case report (:mod:`model.report.case`) as a PDF, as plain text, and with its
trust summary. Research and teaching tool, not a diagnosis.
"""
