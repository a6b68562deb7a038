//! The lifecycles of images, OS files and clusters as tables, like the desk's
//! [`crate::desk_state::RULES`]: for each action, the states it is accepted from and where it
//! leads. The store binds these states into its SQL, so no state is spelled anywhere else.

use crate::enums::ClusterState;
use crate::enums::ImageFileState;
use crate::enums::ImageState;

/// Where an accepted action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To<S> {
    /// The row moves to this state.
    State(S),
    /// The row keeps its state (a guard: something new may refer to it).
    Same,
    /// The row goes.
    Gone,
}

/// One row of a table: the states an action is accepted from, and where it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule<S: 'static> {
    pub from: &'static [S],
    pub to: To<S>,
}

impl<S: Copy + PartialEq + 'static> Rule<S> {
    pub fn accepts(&self, state: S) -> bool {
        self.from.contains(&state)
    }

    /// The state the action moves to; `None` when the row keeps its state or goes.
    pub fn target(&self) -> Option<S> {
        match self.to {
            To::State(s) => Some(s),
            To::Same | To::Gone => None,
        }
    }
}

/// The actions of a two-phase delete, shared by every resource that has one: mark the row
/// DELETING (after checking nothing needs it), remove it once the driver's work is done, or
/// restore it when something came to need it meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteStep {
    Begin,
    Remove,
    Restore,
}

/// A resource with a two-phase delete: its state type and the rule of each step.
pub trait TwoPhaseDelete: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + 'static {
    fn delete_rule(step: DeleteStep) -> Rule<Self>;
}

/// What happens to an image version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAction {
    /// A build or publish succeeded.
    Complete,
    /// A build or publish failed.
    Fail,
    Edit,
    Disable,
    Enable,
    /// A new version joins the family; every other version must be in one of `from`.
    Derive,
    Delete(DeleteStep),
}

impl ImageAction {
    pub const ALL: &'static [ImageAction] = &[
        ImageAction::Complete,
        ImageAction::Fail,
        ImageAction::Edit,
        ImageAction::Disable,
        ImageAction::Enable,
        ImageAction::Derive,
        ImageAction::Delete(DeleteStep::Begin),
        ImageAction::Delete(DeleteStep::Remove),
        ImageAction::Delete(DeleteStep::Restore),
    ];

    /// The table.
    pub const fn rule(self) -> Rule<ImageState> {
        use ImageState::*;
        let (from, to): (&'static [ImageState], _) = match self {
            ImageAction::Complete => (&[CREATING, PUBLISHING], To::State(AVAILABLE)),
            ImageAction::Fail => (&[CREATING, PUBLISHING], To::State(ERROR)),
            // Edits repeat while the version is EDITING (a retried request).
            ImageAction::Edit => (&[AVAILABLE, DISABLED, EDITING], To::State(EDITING)),
            ImageAction::Disable => (&[AVAILABLE], To::State(DISABLED)),
            ImageAction::Enable => (&[DISABLED], To::State(AVAILABLE)),
            ImageAction::Derive => (&[AVAILABLE, DISABLED, EDITING, ERROR], To::Same),
            ImageAction::Delete(DeleteStep::Begin) => (
                &[AVAILABLE, DISABLED, EDITING, ERROR, DELETING],
                To::State(DELETING),
            ),
            ImageAction::Delete(DeleteStep::Remove) => (&[DELETING], To::Gone),
            ImageAction::Delete(DeleteStep::Restore) => (&[DELETING], To::State(AVAILABLE)),
        };
        Rule { from, to }
    }
}

impl TwoPhaseDelete for ImageState {
    fn delete_rule(step: DeleteStep) -> Rule<Self> {
        ImageAction::Delete(step).rule()
    }
}

/// What happens to an OS file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsFileAction {
    /// Its upload completed.
    Finish,
    /// Its upload did not complete: the row goes.
    DropUpload,
    /// An image is built on it.
    Use,
    Delete(DeleteStep),
}

impl OsFileAction {
    pub const ALL: &'static [OsFileAction] = &[
        OsFileAction::Finish,
        OsFileAction::DropUpload,
        OsFileAction::Use,
        OsFileAction::Delete(DeleteStep::Begin),
        OsFileAction::Delete(DeleteStep::Remove),
        OsFileAction::Delete(DeleteStep::Restore),
    ];

    /// The table.
    pub const fn rule(self) -> Rule<ImageFileState> {
        use ImageFileState::*;
        let (from, to): (&'static [ImageFileState], _) = match self {
            OsFileAction::Finish => (&[UPLOADING], To::State(AVAILABLE)),
            OsFileAction::DropUpload => (&[UPLOADING], To::Gone),
            OsFileAction::Use => (&[AVAILABLE], To::Same),
            OsFileAction::Delete(DeleteStep::Begin) => {
                (&[AVAILABLE, DELETING], To::State(DELETING))
            }
            OsFileAction::Delete(DeleteStep::Remove) => (&[DELETING], To::Gone),
            OsFileAction::Delete(DeleteStep::Restore) => (&[DELETING], To::State(AVAILABLE)),
        };
        Rule { from, to }
    }
}

impl TwoPhaseDelete for ImageFileState {
    fn delete_rule(step: DeleteStep) -> Rule<Self> {
        OsFileAction::Delete(step).rule()
    }
}

/// What happens to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterAction {
    /// A host, network or pool joins it.
    Join,
    Delete(DeleteStep),
}

impl ClusterAction {
    pub const ALL: &'static [ClusterAction] = &[
        ClusterAction::Join,
        ClusterAction::Delete(DeleteStep::Begin),
        ClusterAction::Delete(DeleteStep::Remove),
        ClusterAction::Delete(DeleteStep::Restore),
    ];

    /// The table.
    pub const fn rule(self) -> Rule<ClusterState> {
        use ClusterState::*;
        let (from, to): (&'static [ClusterState], _) = match self {
            // Nothing new goes into a cluster being removed.
            ClusterAction::Join => (&[ENABLED, DISABLED], To::Same),
            ClusterAction::Delete(DeleteStep::Begin) => {
                (&[ENABLED, DISABLED, DELETING], To::State(DELETING))
            }
            ClusterAction::Delete(DeleteStep::Remove) => (&[DELETING], To::Gone),
            ClusterAction::Delete(DeleteStep::Restore) => (&[DELETING], To::State(ENABLED)),
        };
        Rule { from, to }
    }
}

impl TwoPhaseDelete for ClusterState {
    fn delete_rule(step: DeleteStep) -> Rule<Self> {
        ClusterAction::Delete(step).rule()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every accepted (action, state) pair of a table, as `action STATE->TARGET`.
    fn accepted<A: std::fmt::Debug, S: Copy + PartialEq + std::fmt::Display + 'static>(
        actions: &[A],
        states: &[S],
        rule: impl Fn(&A) -> Rule<S>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for a in actions {
            let r = rule(a);
            for s in states.iter().filter(|s| r.accepts(**s)) {
                let to = match r.to {
                    To::State(t) => t.to_string(),
                    To::Same => "same".into(),
                    To::Gone => "gone".into(),
                };
                out.push(format!("{a:?} {s}->{to}"));
            }
        }
        out
    }

    #[test]
    fn the_image_table() {
        assert_eq!(
            accepted(ImageAction::ALL, ImageState::ALL, |a| a.rule()),
            [
                "Complete CREATING->AVAILABLE",
                "Complete PUBLISHING->AVAILABLE",
                "Fail CREATING->ERROR",
                "Fail PUBLISHING->ERROR",
                "Edit AVAILABLE->EDITING",
                "Edit EDITING->EDITING",
                "Edit DISABLED->EDITING",
                "Disable AVAILABLE->DISABLED",
                "Enable DISABLED->AVAILABLE",
                "Derive AVAILABLE->same",
                "Derive EDITING->same",
                "Derive ERROR->same",
                "Derive DISABLED->same",
                "Delete(Begin) AVAILABLE->DELETING",
                "Delete(Begin) DELETING->DELETING",
                "Delete(Begin) EDITING->DELETING",
                "Delete(Begin) ERROR->DELETING",
                "Delete(Begin) DISABLED->DELETING",
                "Delete(Remove) DELETING->gone",
                "Delete(Restore) DELETING->AVAILABLE",
            ]
        );
    }

    #[test]
    fn the_os_file_table() {
        assert_eq!(
            accepted(OsFileAction::ALL, ImageFileState::ALL, |a| a.rule()),
            [
                "Finish UPLOADING->AVAILABLE",
                "DropUpload UPLOADING->gone",
                "Use AVAILABLE->same",
                "Delete(Begin) AVAILABLE->DELETING",
                "Delete(Begin) DELETING->DELETING",
                "Delete(Remove) DELETING->gone",
                "Delete(Restore) DELETING->AVAILABLE",
            ]
        );
    }

    #[test]
    fn the_cluster_table() {
        assert_eq!(
            accepted(ClusterAction::ALL, ClusterState::ALL, |a| a.rule()),
            [
                "Join ENABLED->same",
                "Join DISABLED->same",
                "Delete(Begin) ENABLED->DELETING",
                "Delete(Begin) DISABLED->DELETING",
                "Delete(Begin) DELETING->DELETING",
                "Delete(Remove) DELETING->gone",
                "Delete(Restore) DELETING->ENABLED",
            ]
        );
    }

    /// The two-phase delete has one shape: begin ends in the state remove and restore start
    /// from, and begin accepts that state again (a repeated request).
    #[test]
    fn every_two_phase_delete_has_the_same_shape() {
        fn shape<S: TwoPhaseDelete>() {
            let begin = S::delete_rule(DeleteStep::Begin);
            let deleting = begin.target().expect("begin moves to a state");
            assert!(begin.accepts(deleting));
            assert_eq!(S::delete_rule(DeleteStep::Remove).from, &[deleting]);
            assert_eq!(S::delete_rule(DeleteStep::Remove).to, To::Gone);
            assert_eq!(S::delete_rule(DeleteStep::Restore).from, &[deleting]);
        }
        shape::<ImageState>();
        shape::<ImageFileState>();
        shape::<ClusterState>();
    }
}
