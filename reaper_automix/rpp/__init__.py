"""The RPP file layer: tokens, a byte-preserving document, a builder for new projects."""
