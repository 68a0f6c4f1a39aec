{
  description = "a flake.nix without an outputs attribute";
  inputs = { };
}
