//! Roles: layout, search paths, dependencies, precedence, handlers,
//! import_role and include_role.

use crate::common::{Project, recap};

fn role_project() -> Project {
    let p = Project::new();
    p.write(
        "roles/common/tasks/main.yml",
        "- copy: content=\"common {{ common_flavour }}\\n\" dest={{ root }}/common\n",
    );
    p.write("roles/common/defaults/main.yml", "common_flavour: plain\n");
    p.write(
        "roles/web/meta/main.yml",
        "dependencies:\n  - role: common\n    common_flavour: spicy\n",
    );
    p.write(
        "roles/web/defaults/main.yml",
        "http_port: 80\nlisten: \"0.0.0.0:{{ http_port }}\"\nfrom_defaults: defaults\nshadowed_by_inventory: defaults\n",
    );
    p.write(
        "roles/web/vars/main.yml",
        "from_vars: vars\nshadowed_by_role_vars: role-vars\n",
    );
    p.write(
        "roles/web/tasks/main.yml",
        r#"- name: configuration
  template: src=site.conf.j2 dest={{ root }}/site.conf
  notify: reload web
- name: static page
  copy: src=index.html dest={{ root }}/index.html
- import_tasks: extra.yml
"#,
    );
    p.write(
        "roles/web/tasks/extra.yml",
        "- copy: content=\"{{ role_name }}\\n\" dest={{ root }}/role_name\n",
    );
    p.write(
        "roles/web/tasks/other.yml",
        "- copy: content=\"other {{ http_port }}\\n\" dest={{ root }}/other\n",
    );
    p.write(
        "roles/web/templates/site.conf.j2",
        "listen {{ listen }}\n{{ from_defaults }} {{ from_vars }} {{ shadowed_by_inventory }} {{ shadowed_by_role_vars }}\n",
    );
    p.write("roles/web/files/index.html", "<h1>hi</h1>\n");
    p.write(
        "roles/web/handlers/main.yml",
        "- name: reload web\n  copy: content=reloaded dest={{ root }}/reloaded\n",
    );
    p.write(
        "hosts.ini",
        "localhost ansible_connection=local shadowed_by_inventory=inventory shadowed_by_role_vars=inventory\n",
    );
    p
}

#[test]
fn roles_run_with_dependencies_precedence_and_handlers() {
    let p = role_project();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    shadowed_by_role_vars: play
  roles:
    - role: web
      http_port: 8080
  tasks:
    - import_role:
        name: web
        tasks_from: other
    - include_role:
        name: web
        tasks_from: other.yml
      when: false
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("common"), "common spicy\n");
    assert_eq!(
        p.read("site.conf"),
        "listen 0.0.0.0:8080\ndefaults vars inventory role-vars\n"
    );
    assert_eq!(p.read("index.html"), "<h1>hi</h1>\n");
    assert_eq!(p.read("role_name"), "web\n");
    assert_eq!(p.read("other"), "other 80\n");
    assert_eq!(p.read("reloaded"), "reloaded");
    assert!(r.stdout.contains("TASK [web : configuration]"), "{r:?}");
    assert!(
        r.stdout.contains("RUNNING HANDLER [web : reload web]"),
        "{r:?}"
    );
    assert!(r.stdout.contains("TASK [include_role : web]"), "{r:?}");
    // The numbers ansible-core 2.19 reports for this playbook.
    assert_eq!(recap(&r, "localhost")[..5], [6, 6, 0, 0, 1], "{r:?}");
    let again = p.apply();
    assert_eq!(recap(&again, "localhost")[1], 0, "{again:?}");
}

#[test]
fn missing_roles_are_load_errors() {
    let p = role_project();
    p.write(
        "site.yml",
        "- hosts: localhost\n  roles:\n    - nosuchrole\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("the role 'nosuchrole' was not found"),
        "{r:?}"
    );
    assert!(r.stderr.contains("site.yml:3:7"), "{r:?}");
}
