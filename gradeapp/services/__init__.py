"""One function per user action on a project (a Store): grade, assign and merge, adjudicate, audit, export..."""
