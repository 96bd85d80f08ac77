# Two Triton images and one Oxide image, baked in parallel from both
# simulators (export the variables of triton.json and oxide.pkr.hcl, see
# README.md), then: cargo run --example bake -- examples/templates/parallel.pkr.hcl
# (add -only=oxide-instance.parallel or -except=triton.b to pick builds).

variable "triton_url" {
  type    = string
  default = env("TRITON_URL")
}

variable "triton_account" {
  type    = string
  default = env("TRITON_ACCOUNT")
}

variable "triton_key_id" {
  type    = string
  default = env("TRITON_KEY_ID")
}

variable "triton_key_material" {
  type    = string
  default = env("TRITON_KEY_MATERIAL")
}

variable "oxide_host" {
  type    = string
  default = env("OXIDE_HOST")
}

variable "oxide_token" {
  type      = string
  default   = env("OXIDE_TOKEN")
  sensitive = true
}

source "triton" "a" {
  triton_url             = var.triton_url
  triton_account         = var.triton_account
  triton_key_id          = var.triton_key_id
  triton_key_material    = var.triton_key_material
  source_machine_package = "g1.small"
  source_machine_image_filter {
    name        = "base-64-lts"
    most_recent = true
  }
  image_name    = "bake-parallel-a"
  image_version = "1.0.{{timestamp}}"
  communicator  = "none"
}

source "triton" "b" {
  triton_url             = var.triton_url
  triton_account         = var.triton_account
  triton_key_id          = var.triton_key_id
  triton_key_material    = var.triton_key_material
  source_machine_package = "g1.small"
  source_machine_image_filter {
    name        = "base-64-lts"
    most_recent = true
  }
  image_name    = "bake-parallel-b"
  image_version = "1.0.{{timestamp}}"
  communicator  = "none"
}

source "oxide-instance" "parallel" {
  host                 = var.oxide_host
  token                = var.oxide_token
  project              = "imagebake"
  boot_disk_image_name = "debian-12"
  boot_disk_size       = 2147483648
  memory               = 1073741824
  artifact_name        = "bake-parallel-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  communicator         = "none"
}

build {
  sources = ["source.triton.a", "source.triton.b", "source.oxide-instance.parallel"]
}
