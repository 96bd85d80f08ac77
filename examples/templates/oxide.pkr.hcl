# One Oxide image from the simulator: `cargo run -p imagebake-sim -- --cloud oxide`
# prints host and token; export them as OXIDE_HOST and OXIDE_TOKEN (see
# README.md), then: cargo run --example bake -- examples/templates/oxide.pkr.hcl
# (HCL2: the Oxide plugin documents only HCL2 and does not interpolate `{{…}}`
# in its fields, so a JSON template could not take the host from a variable.)

variable "oxide_host" {
  type    = string
  default = env("OXIDE_HOST")
}

variable "oxide_token" {
  type      = string
  default   = env("OXIDE_TOKEN")
  sensitive = true
}

source "oxide-instance" "example" {
  host                 = var.oxide_host
  token                = var.oxide_token
  project              = "imagebake"
  boot_disk_image_name = "debian-12"
  boot_disk_size       = 2147483648
  memory               = 1073741824
  artifact_name        = "bake-example-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  artifact_os          = "debian"
  artifact_version     = "12"
  communicator         = "none"
}

build {
  sources = ["source.oxide-instance.example"]
}
