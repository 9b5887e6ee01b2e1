//! Pod sandboxes through the core API (`engine.pods()`): run, join, stop, remove, restore.
