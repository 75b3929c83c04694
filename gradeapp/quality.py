def register(s, c): pass
