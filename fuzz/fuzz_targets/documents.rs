//! The JSON documents the tools exchange, read as a tool reads them (schema, shape, consistency).
#![no_main]

use lastmile_documents::Document;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::graph::GraphDocument;
use lastmile_documents::lock::LockDocument;
use lastmile_documents::report::ReportDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(graph) = GraphDocument::from_json(text, "fuzz") {
        for node in &graph.nodes {
            let _ = graph.node(&node.name);
        }
    }
    let _ = LockDocument::from_json(text, "fuzz");
    let _ = ReportDocument::from_json(text, "fuzz");
    if let Ok(deployment) = DeploymentDocument::from_json(text, "fuzz") {
        for node in &deployment.nodes {
            let _ = deployment.variables(Some(node));
        }
        let _ = deployment.variables(None);
    }
    if let Ok(candidate) = CandidateDocument::from_json(text, "fuzz") {
        let _ = candidate.roles();
    }
});
