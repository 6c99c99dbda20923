//! Inventories: Ansible INI and YAML formats, group_vars/host_vars, host patterns.
