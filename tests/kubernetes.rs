//! deploy/kubernetes: every manifest validates against Kubernetes' own OpenAPI schemas
//! (`kubernetes-validate --strict`, PyPI, installed by scripts/test.sh), and the pieces fit: the
//! Service and the PodMonitor select the Deployment's pods, the probes are the server's, the
//! grace period outlasts the preStop pause. tests/image.rs starts the image with the
//! Deployment's arguments.

use std::process::Command;

const DIR: &str = "deploy/kubernetes";

fn manifest(file: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(format!("{DIR}/{file}")).unwrap()).unwrap()
}

fn validate(path: &std::path::Path) -> std::process::Output {
    Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.37.0"])
        .arg(path)
        .output()
        .expect("kubernetes-validate (pip install -r requirements-test.txt; scripts/test.sh does)")
}

#[test]
fn the_manifests_validate_against_kubernetes_schemas() {
    for file in ["configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml"] {
        let out = validate(&std::path::Path::new(DIR).join(file));
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.contains("passed"), "{file}: {said}");
    }
    // The validator refuses what Kubernetes would: a field the schema does not have.
    let dir = tempfile::tempdir().unwrap();
    let broken = std::fs::read_to_string(format!("{DIR}/deployment.yaml"))
        .unwrap()
        .replace("readinessProbe:", "readynessProbe:");
    std::fs::write(dir.path().join("broken.yaml"), broken).unwrap();
    assert!(!validate(&dir.path().join("broken.yaml")).status.success(), "a misspelt field passed");
    // Every file is in the kustomization.
    let kustomization = manifest("kustomization.yaml");
    let listed: Vec<&str> =
        kustomization["resources"].as_sequence().unwrap().iter().filter_map(|r| r.as_str()).collect();
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    files.sort();
    let mut listed_sorted: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    listed_sorted.sort();
    assert_eq!(files, listed_sorted);
}

#[test]
fn the_pieces_fit_together() {
    let deployment = manifest("deployment.yaml");
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(&manifest("service.yaml")["spec"]["selector"], labels);
    assert_eq!(&manifest("podmonitor.yaml")["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(manifest("hpa.yaml")["spec"]["scaleTargetRef"]["name"], deployment["metadata"]["name"]);
    let container = &pod["spec"]["containers"][0];
    let args: Vec<&str> = container["args"].as_sequence().unwrap().iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(args[0], "serve");
    let listen = args[args.iter().position(|a| *a == "--listen").unwrap() + 1];
    assert!(listen.ends_with(":8080"), "{listen}");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/ping");
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(
        (annotations["prometheus.io/port"].as_str(), annotations["prometheus.io/path"].as_str()),
        (Some("8080"), Some("/metrics"))
    );
    // The config the ConfigMap holds is one ml-gates loads.
    let config = manifest("configmap.yaml")["data"]["ml-gates.yaml"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
    ml_gates::config::load(&dir.path().join("ml-gates.yaml")).unwrap();
    // SIGTERM comes after the preStop pause: the grace period holds both and the drain.
    let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64().unwrap();
    assert!(pod["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap() >= pause + 10);
    // Credentials only from the Secret.
    let env = container["env"].as_sequence().unwrap();
    let password = env.iter().find(|e| e["name"] == "ML_GATES_OCI_PASSWORD").unwrap();
    assert!(password["valueFrom"]["secretKeyRef"]["name"].as_str().is_some(), "{password:?}");
}
