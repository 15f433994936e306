// Put first on the include path of the judge and its tests (src/judge/
// CMakeLists.txt): the judge reads the session record, never the engine, so
// any Asio header reached from it is a layering error.
#error "the judge must not depend on Asio (it reads events/session_record.h)"
