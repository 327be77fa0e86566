//! The lab's tools behind `scripts/`: the stress runner (`stress`), the
//! grader (`grade`), the handout generator (`make-handout`), the Gradescope
//! bundle (`make-autograder`), the planted-bug runner (`mutants`) and the log
//! viewer (`logs`). Each is a binary of this crate; the shell scripts of the
//! same names build and run them. The README says how to use each.
//!
//! Modules:
//!
//! * running tests: [`suite`] (build the suites, list their tests, run one
//!   in a process of its own and read its run record, the worker pool and
//!   the shard filter), [`cargo`] (cargo's JSON messages), [`output`] (a
//!   process's output kept within bounds);
//! * grading: [`submission`] (what a submission may change, its graded
//!   copy), [`gate`] (the static gate), [`scan`] (the one Rust tokenizer,
//!   and the scans clippy cannot make), [`grading`] (points, budgets, the
//!   results file);
//! * the other tools: [`handout`] (the handout's markers), [`mutants`] (the
//!   planted-bug catalogue and its working copy), [`edit`] (a find-and-
//!   replace edit of a tree), [`tree`] (a checkout's files), [`logview`]
//!   (the log viewer's layout).

pub mod cargo;
pub mod edit;
pub mod gate;
pub mod grading;
pub mod handout;
pub mod logview;
pub mod mutants;
pub mod output;
pub mod scan;
pub mod submission;
pub mod suite;
pub mod tree;
