//! RLS lint rules (placeholder until the rules land).
