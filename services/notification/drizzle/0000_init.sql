CREATE SCHEMA "notification";
--> statement-breakpoint
CREATE TABLE "notification"."conversations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"title" text,
	"members_complete" boolean DEFAULT false NOT NULL,
	"version_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification"."members" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"state" text NOT NULL,
	"preference" text NOT NULL,
	"version_at" timestamp with time zone NOT NULL,
	CONSTRAINT "members_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id"),
	CONSTRAINT "members_state_ck" CHECK ("notification"."members"."state" in ('active', 'muted', 'banned', 'removed')),
	CONSTRAINT "members_preference_ck" CHECK ("notification"."members"."preference" in ('all', 'mentions', 'none'))
);
--> statement-breakpoint
CREATE TABLE "notification"."messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"conversation_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"sender_id" uuid,
	"last_edit_notified_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "notification"."notifications" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"conversation_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"read_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "notifications_kind_ck" CHECK ("notification"."notifications"."kind" in ('message', 'mention', 'reply', 'edit', 'system'))
);
--> statement-breakpoint
CREATE TABLE "notification"."outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"subject" text NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "notification"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "notification"."users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text,
	"deleted_at" timestamp with time zone,
	"version_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "members_user_idx" ON "notification"."members" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "messages_conversation_idx" ON "notification"."messages" USING btree ("conversation_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_user_message_key_uq" ON "notification"."notifications" USING btree ("user_id","message_id","dedupe_key");--> statement-breakpoint
CREATE INDEX "notifications_user_id_idx" ON "notification"."notifications" USING btree ("user_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notifications_user_unread_idx" ON "notification"."notifications" USING btree ("user_id","id" DESC NULLS LAST) WHERE "notification"."notifications"."read_at" is null;--> statement-breakpoint
CREATE INDEX "notifications_user_conversation_unread_idx" ON "notification"."notifications" USING btree ("user_id","conversation_id","seq") WHERE "notification"."notifications"."read_at" is null;--> statement-breakpoint
CREATE INDEX "notifications_message_idx" ON "notification"."notifications" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "notification"."outbox" USING btree ("id") WHERE published_at IS NULL;