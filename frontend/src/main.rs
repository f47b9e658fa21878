fn main() {
    frontend::start();
}
