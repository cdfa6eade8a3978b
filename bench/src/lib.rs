//! corral-bench: measurements of Corral's components and of the whole server.
