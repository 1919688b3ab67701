"""Recognizers for the ways exporters spell one operation as many (layer norm from sums of
squares, softmax from exp and a sum, an embedding lookup as a one-hot matrix product). The
canonicalize pass calls them; each module matches one operation and rewrites it into the op qcc
quantizes as a whole."""
