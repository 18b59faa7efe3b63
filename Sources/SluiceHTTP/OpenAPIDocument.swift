// OpenAPIDocument: the API's OpenAPI 3.1 document, served at /openapi.json. The same text is
// committed at docs/openapi.json; a test keeps the two equal and compares the document with the
// server's route table both ways.

public enum OpenAPIDocument {
    public static let json = #"""
{
  "components": {
    "schemas": {
      "Enqueued": {
        "additionalProperties": false,
        "properties": {
          "class": {
            "type": "string"
          },
          "duplicate": {
            "type": "boolean"
          },
          "id": {
            "format": "uuid",
            "type": "string"
          },
          "state": {
            "type": "string"
          }
        },
        "required": [
          "id",
          "duplicate",
          "state",
          "class"
        ],
        "type": "object"
      },
      "Error": {
        "properties": {
          "error": {
            "properties": {
              "code": {
                "type": "string"
              },
              "field": {
                "type": "string"
              },
              "message": {
                "type": "string"
              }
            },
            "required": [
              "code",
              "message"
            ],
            "type": "object"
          }
        },
        "required": [
          "error"
        ],
        "type": "object"
      },
      "Job": {
        "properties": {
          "args": {
            "type": "object"
          },
          "attempt": {
            "type": "integer"
          },
          "class": {
            "type": "string"
          },
          "enqueued_at": {
            "type": "string"
          },
          "error": {
            "type": [
              "string",
              "null"
            ]
          },
          "finished_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "id": {
            "format": "uuid",
            "type": "string"
          },
          "kind": {
            "type": "string"
          },
          "max_attempts": {
            "type": "integer"
          },
          "progress": {},
          "result": {},
          "started_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "state": {
            "enum": [
              "available",
              "scheduled",
              "running",
              "retryable",
              "completed",
              "cancelled",
              "discarded"
            ],
            "type": "string"
          },
          "status": {
            "description": "The live view from Redis, when reachable.",
            "type": "object"
          },
          "target": {
            "type": "string"
          },
          "unique_key": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "required": [
          "id",
          "kind",
          "class",
          "target",
          "state",
          "attempt",
          "args"
        ],
        "type": "object"
      },
      "JobBatch": {
        "additionalProperties": false,
        "properties": {
          "jobs": {
            "items": {
              "$ref": "#/components/schemas/JobRequest"
            },
            "maxItems": 1000,
            "minItems": 1,
            "type": "array"
          }
        },
        "required": [
          "jobs"
        ],
        "type": "object"
      },
      "JobRequest": {
        "additionalProperties": false,
        "properties": {
          "args": {
            "description": "The kind's typed arguments.",
            "type": "object"
          },
          "class": {
            "enum": [
              "maintenance",
              "refresh",
              "import",
              "analytics"
            ],
            "type": "string"
          },
          "delay_s": {
            "maximum": 2592000,
            "minimum": 0,
            "type": "integer"
          },
          "kind": {
            "description": "A kind the catalog declares, e.g. sys.noop, refresh.matview.",
            "minLength": 1,
            "type": "string"
          },
          "max_attempts": {
            "description": "Attempts before the job is dead-lettered; default: the kind's (5 unless the kind declares its own).",
            "maximum": 100,
            "minimum": 1,
            "type": "integer"
          },
          "not_before": {
            "format": "date-time",
            "type": "string"
          },
          "priority": {
            "maximum": 9,
            "minimum": 0,
            "type": "integer"
          },
          "target": {
            "default": "main",
            "type": "string"
          },
          "timeout_s": {
            "description": "One attempt's time limit in seconds; default: the kind's (900 unless the kind declares its own).",
            "maximum": 604800,
            "minimum": 1,
            "type": "integer"
          },
          "trace_id": {
            "type": "string"
          },
          "unique_key": {
            "description": "At most one live job per key; a duplicate returns the live job's id.",
            "type": "string"
          }
        },
        "required": [
          "kind"
        ],
        "type": "object"
      }
    },
    "securitySchemes": {
      "bearer": {
        "scheme": "bearer",
        "type": "http"
      },
      "session": {
        "in": "cookie",
        "name": "sluice_session",
        "type": "apiKey"
      }
    }
  },
  "info": {
    "description": "Enqueue and inspect Sluice jobs, queues, dead letters, schedules, cached outputs, health reports and alerts. Authenticate with `Authorization: Bearer <token>`; tokens carry the scopes read, enqueue or admin (admin implies both). Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}`.",
    "title": "Sluice API",
    "version": "1.0.0"
  },
  "openapi": "3.1.0",
  "paths": {
    "/": {
      "get": {
        "description": "Signed in (session cookie): the page. Otherwise a redirect to /login.",
        "operationId": "dashboard",
        "responses": {
          "200": {
            "content": {
              "text/html": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "The dashboard page."
          },
          "303": {
            "description": "Not signed in: to /login."
          }
        },
        "summary": "The web dashboard"
      }
    },
    "/healthz": {
      "get": {
        "operationId": "healthz",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Up."
          }
        },
        "summary": "The process is up"
      }
    },
    "/login": {
      "get": {
        "operationId": "loginPage",
        "responses": {
          "200": {
            "content": {
              "text/html": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "The form."
          }
        },
        "summary": "The sign-in form"
      },
      "post": {
        "operationId": "login",
        "requestBody": {
          "content": {
            "application/x-www-form-urlencoded": {
              "schema": {
                "properties": {
                  "token": {
                    "type": "string"
                  }
                },
                "required": [
                  "token"
                ],
                "type": "object"
              }
            }
          },
          "required": true
        },
        "responses": {
          "303": {
            "description": "Signed in: a session cookie (HttpOnly, SameSite=Strict) and a redirect to /."
          },
          "401": {
            "content": {
              "text/html": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "The token is not valid: the form again."
          },
          "413": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The body is past the limit."
          }
        },
        "summary": "Sign in with a token"
      }
    },
    "/logout": {
      "post": {
        "operationId": "logout",
        "responses": {
          "303": {
            "description": "The session cookie cleared; to /login."
          }
        },
        "summary": "Sign out"
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "responses": {
          "200": {
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "Text exposition format 0.0.4."
          }
        },
        "summary": "Prometheus metrics"
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "OpenAPI 3.1."
          }
        },
        "summary": "This document"
      }
    },
    "/readyz": {
      "get": {
        "operationId": "readyz",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "All reachable."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Not ready; `servers` says which is down."
          }
        },
        "summary": "Postgres, RabbitMQ and Redis reachable"
      }
    },
    "/v1/alerts": {
      "get": {
        "operationId": "listAlerts",
        "parameters": [
          {
            "description": "1 to 1000 (default 100).",
            "in": "query",
            "name": "limit",
            "required": false,
            "schema": {
              "maximum": 1000,
              "minimum": 1,
              "type": "integer"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "The newest entries of the alerts stream (firing / resolved) and how many alerts are firing."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Alerts"
      }
    },
    "/v1/cache/{name}": {
      "get": {
        "operationId": "getCache",
        "parameters": [
          {
            "in": "path",
            "name": "name",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "The query's parameters as a JSON object (default {}).",
            "in": "query",
            "name": "params",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "The catalog target whose output to read (default main).",
            "in": "query",
            "name": "target",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "The cached output of query `name`: `cache` holds computed_at, stale_after, expires_at, rows, duration_ms, job_id and last_error; `key` is the Redis key (params normalised by the query's declared types, hashed as the README documents); `stale` says whether a refresh is due."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed, or params do not fit the query's declared parameters; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The catalog declares no such query, or nothing is cached for these params."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "A cached query output"
      }
    },
    "/v1/dead": {
      "get": {
        "operationId": "listDead",
        "parameters": [
          {
            "description": "1 to 1000 (default 100).",
            "in": "query",
            "name": "limit",
            "required": false,
            "schema": {
              "maximum": 1000,
              "minimum": 1,
              "type": "integer"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Dead letters, oldest first (the queue is left as it was)."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Dead letters"
      }
    },
    "/v1/dead/{id}/replay": {
      "post": {
        "operationId": "replayDead",
        "parameters": [
          {
            "in": "path",
            "name": "id",
            "required": true,
            "schema": {
              "format": "uuid",
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Replayed: the job is queued again at attempt 1."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "No dead letter has this job id."
          },
          "422": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The dead letter is not a valid envelope and cannot be replayed."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "admin"
            ]
          },
          {
            "session": [
              "admin"
            ]
          }
        ],
        "summary": "Replay a dead letter"
      }
    },
    "/v1/events": {
      "get": {
        "operationId": "followEvents",
        "parameters": [
          {
            "description": "A stream id to resume after (or the Last-Event-ID header).",
            "in": "query",
            "name": "after",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "in": "header",
            "name": "Last-Event-ID",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "text/event-stream": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "Server-sent events: one per job state change (`id:` the stream id, `data:` the event as JSON)."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Live job events"
      }
    },
    "/v1/health/{target}": {
      "get": {
        "operationId": "getHealth",
        "parameters": [
          {
            "in": "path",
            "name": "target",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Every health report stored for the target, by report name."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Health reports of a target"
      }
    },
    "/v1/imports": {
      "post": {
        "operationId": "startImport",
        "parameters": [
          {
            "description": "The catalog import spec (`imports:`), e.g. leads.",
            "in": "query",
            "name": "spec",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "The catalog target to import into (default main).",
            "in": "query",
            "name": "target",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "csv or ndjson (default: from file_name, else csv).",
            "in": "query",
            "name": "format",
            "required": false,
            "schema": {
              "enum": [
                "csv",
                "ndjson"
              ],
              "type": "string"
            }
          },
          {
            "description": "The CSV delimiter, one character.",
            "in": "query",
            "name": "delimiter",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "true: check and count every row, then roll back.",
            "in": "query",
            "name": "dry_run",
            "required": false,
            "schema": {
              "enum": [
                "true",
                "false"
              ],
              "type": "string"
            }
          },
          {
            "description": "The file's name (shown in the report; .gz means gzip, .ndjson/.jsonl NDJSON).",
            "in": "query",
            "name": "file_name",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "content": {
            "application/gzip": {
              "schema": {
                "format": "binary",
                "type": "string"
              }
            },
            "application/octet-stream": {
              "schema": {
                "format": "binary",
                "type": "string"
              }
            },
            "application/x-ndjson": {
              "schema": {
                "type": "string"
              }
            },
            "text/csv": {
              "schema": {
                "type": "string"
              }
            }
          },
          "description": "The file itself, streamed: never held whole in memory.",
          "required": true
        },
        "responses": {
          "202": {
            "content": {
              "application/json": {
                "schema": {
                  "additionalProperties": false,
                  "properties": {
                    "bytes": {
                      "type": "integer"
                    },
                    "id": {
                      "format": "uuid",
                      "type": "string"
                    },
                    "state": {
                      "type": "string"
                    },
                    "upload": {
                      "format": "uuid",
                      "type": "string"
                    }
                  },
                  "required": [
                    "id",
                    "upload",
                    "bytes",
                    "state"
                  ],
                  "type": "object"
                }
              }
            },
            "description": "Stored and enqueued: `id` is the import.file job (follow it at /v1/jobs/{id}: progress while it runs, the report when done)."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "No such import spec, a malformed parameter, an empty file, or an upload that stalled (nothing for the idle timeout) or broke off; nothing was kept. `field` names the parameter when one is wrong."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "413": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The file is larger than the spec's max_file_size; nothing was kept."
          },
          "422": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The import's arguments or target are refused (validated against the catalog); nothing was written."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Too many uploads in progress (code `busy`, with Retry-After), or Postgres or RabbitMQ did not answer; nothing was kept."
          }
        },
        "security": [
          {
            "bearer": [
              "enqueue"
            ]
          },
          {
            "session": [
              "enqueue"
            ]
          }
        ],
        "summary": "Upload a file and enqueue its import"
      }
    },
    "/v1/imports/{id}/rejects.csv": {
      "get": {
        "operationId": "importRejects",
        "parameters": [
          {
            "in": "path",
            "name": "id",
            "required": true,
            "schema": {
              "format": "uuid",
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "text/csv": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "description": "Every rejected row: `line,column,reason`, in line order."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The id is not a job id."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "No import.file job has this id."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Download an import's rejected rows as CSV"
      }
    },
    "/v1/jobs": {
      "get": {
        "operationId": "listJobs",
        "parameters": [
          {
            "description": "A job state.",
            "in": "query",
            "name": "state",
            "required": false,
            "schema": {
              "enum": [
                "available",
                "scheduled",
                "running",
                "retryable",
                "completed",
                "cancelled",
                "discarded"
              ],
              "type": "string"
            }
          },
          {
            "description": "Exact kind.",
            "in": "query",
            "name": "kind",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "Workload class.",
            "in": "query",
            "name": "class",
            "required": false,
            "schema": {
              "enum": [
                "maintenance",
                "refresh",
                "import",
                "analytics"
              ],
              "type": "string"
            }
          },
          {
            "description": "Database target.",
            "in": "query",
            "name": "target",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "A job id, a kind, or a unique key (exact or prefix).",
            "in": "query",
            "name": "q",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "description": "Page size, 1 to 500 (default 50).",
            "in": "query",
            "name": "limit",
            "required": false,
            "schema": {
              "maximum": 500,
              "minimum": 1,
              "type": "integer"
            }
          },
          {
            "description": "`next_cursor` of the previous page.",
            "in": "query",
            "name": "cursor",
            "required": false,
            "schema": {
              "pattern": "^[A-Za-z0-9_-]{1,100}$",
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "properties": {
                    "jobs": {
                      "items": {
                        "$ref": "#/components/schemas/Job"
                      },
                      "type": "array"
                    },
                    "next_cursor": {
                      "type": [
                        "string",
                        "null"
                      ]
                    }
                  },
                  "required": [
                    "jobs",
                    "next_cursor"
                  ],
                  "type": "object"
                }
              }
            },
            "description": "One page, newest first; `next_cursor` continues it (null on the last page)."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "List jobs (keyset pages; never counts the ledger)"
      },
      "post": {
        "operationId": "enqueueJobs",
        "parameters": [
          {
            "description": "A retry with the same key and body gets the first answer and enqueues nothing.",
            "in": "header",
            "name": "Idempotency-Key",
            "required": false,
            "schema": {
              "maxLength": 200,
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "content": {
            "application/json": {
              "schema": {
                "oneOf": [
                  {
                    "$ref": "#/components/schemas/JobRequest"
                  },
                  {
                    "$ref": "#/components/schemas/JobBatch"
                  }
                ]
              }
            }
          },
          "required": true
        },
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Enqueued"
                }
              }
            },
            "description": "A live job already held the unique key: its id."
          },
          "201": {
            "content": {
              "application/json": {
                "schema": {
                  "oneOf": [
                    {
                      "$ref": "#/components/schemas/Enqueued"
                    },
                    {
                      "additionalProperties": false,
                      "properties": {
                        "jobs": {
                          "items": {
                            "type": "object"
                          },
                          "type": "array"
                        }
                      },
                      "required": [
                        "jobs"
                      ],
                      "type": "object"
                    }
                  ]
                }
              }
            },
            "description": "Enqueued (for a batch: one entry per job, in order; an entry may hold an error if its publish failed)."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Malformed JSON, a wrong type, an unknown field; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "409": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A request with this Idempotency-Key is still being served."
          },
          "413": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The body or the batch is past the limit."
          },
          "422": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Unknown kind or invalid arguments (validated against the catalog); nothing was written. Or the Idempotency-Key was used with another body."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "enqueue"
            ]
          },
          {
            "session": [
              "enqueue"
            ]
          }
        ],
        "summary": "Enqueue one job or a batch"
      }
    },
    "/v1/jobs/{id}": {
      "get": {
        "operationId": "getJob",
        "parameters": [
          {
            "in": "path",
            "name": "id",
            "required": true,
            "schema": {
              "format": "uuid",
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Job"
                }
              }
            },
            "description": "The ledger row, with the Redis status when reachable."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "No job has this id."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "One job"
      }
    },
    "/v1/jobs/{id}/cancel": {
      "post": {
        "operationId": "cancelJob",
        "parameters": [
          {
            "in": "path",
            "name": "id",
            "required": true,
            "schema": {
              "format": "uuid",
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "`cancelled` (it was queued) or `requested` (it is running; its worker cancels it)."
          },
          "400": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A parameter is malformed; `field` names it."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "No job has this id."
          },
          "409": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The job already finished."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "admin"
            ]
          },
          {
            "session": [
              "admin"
            ]
          }
        ],
        "summary": "Cancel a job"
      }
    },
    "/v1/matviews": {
      "get": {
        "operationId": "listMatviews",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "properties": {
                    "views": {
                      "type": "object"
                    }
                  },
                  "required": [
                    "views"
                  ],
                  "type": "object"
                }
              }
            },
            "description": "Per view (`schema.view`): the last refresh as `refresh.matview` recorded it (refreshed_at, mode, duration_seconds, rows)."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Materialized views' last refresh"
      }
    },
    "/v1/queues": {
      "get": {
        "operationId": "listQueues",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Per class: broker depth and consumers, waiting, running, completed/failed in the last hour, completed per minute, oldest waiting job's age; and the dead-letter count."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Queues at a glance"
      }
    },
    "/v1/schedules": {
      "get": {
        "operationId": "listSchedules",
        "responses": {
          "200": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Each schedule with its spec, kind, last and next fire."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "read"
            ]
          },
          {
            "session": [
              "read"
            ]
          }
        ],
        "summary": "Schedules"
      }
    },
    "/v1/schedules/{name}/run": {
      "post": {
        "operationId": "runSchedule",
        "parameters": [
          {
            "in": "path",
            "name": "name",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "201": {
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            },
            "description": "Fired now: the job's id."
          },
          "401": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "Missing or invalid bearer token or session."
          },
          "403": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "The token lacks the scope (or a dashboard action lacks its CSRF token)."
          },
          "404": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "No schedule has this name."
          },
          "503": {
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            },
            "description": "A server this needs (Postgres, RabbitMQ or Redis) did not answer in time; the message names it."
          }
        },
        "security": [
          {
            "bearer": [
              "admin"
            ]
          },
          {
            "session": [
              "admin"
            ]
          }
        ],
        "summary": "Fire a schedule now"
      }
    }
  },
  "servers": [
    {
      "url": "http://127.0.0.1:8080"
    }
  ]
}
"""#
}
