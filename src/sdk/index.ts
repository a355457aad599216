/** `rekey/sdk`: what applications embed. */
export {}
