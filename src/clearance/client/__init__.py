"""The caller's side: reads plan files, hashes artifacts, streams evidence, signs locally."""
