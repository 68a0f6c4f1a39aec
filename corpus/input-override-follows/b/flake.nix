{
  description = "helper flake b: the input that a's own b input is redirected to";
  outputs = { self }: {
    name = "b-from-sibling";
  };
}
